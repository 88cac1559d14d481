// The event catalog, the platform operator's page (docs/contract.md 13): every event type, a form to
// create one or change one, and archiving. Routes: #/event-types, #/event-types/new and
// #/event-types/{name}/edit (a type may be named "new"). Writing takes the token scope
// event-types:write: the navigation offers the page only to such a token, and the API refuses
// the others' writes anyway.
import { api } from "./api.js";
import { confirmChoice, field, h, page, replace, showErrors, toast } from "./dom.js";
import { jsonInput, readJson } from "./json.js";
import { failure } from "./pages.js";

export const EVENT_TYPES_ROUTE = "#/event-types";
export const CATALOG_SCOPE = "event-types:write";

// Names are dot-separated words of a-z, 0-9 and _: safe in an address as they are.
const editRoute = (name) => `${EVENT_TYPES_ROUTE}/${name}/edit`;
const typePath = (name) => `/event-types/${encodeURIComponent(name)}`;

// Shows the page `path` (the address after "#") names.
export async function eventTypesRoute(main, path) {
  const [, sub] = path.match(/^\/event-types\/(.+)$/) || [];
  if (sub === "new") await eventTypeForm(main, null);
  else if (sub?.endsWith("/edit")) await eventTypeForm(main, sub.slice(0, -"/edit".length));
  else await eventTypeList(main);
}

// A write the token may not make: said plainly, as the API's 403 names only the scope.
function refusal(err) {
  return err.status === 403
    ? `Your token may not change the event catalog: it lacks the ${CATALOG_SCOPE} scope.`
    : err.message;
}

// ---- List ------------------------------------------------------------------------------------

function stateBadge(type) {
  if (type.platform) return h("span", { class: "badge info" }, "Platform");
  return type.archived ? h("span", { class: "badge off" }, "Archived") : h("span", { class: "badge ok" }, "Active");
}

// Archives `type` once the user confirms, then shows the list again as it now is.
async function archive(main, type) {
  const confirmed = await confirmChoice({
    title: "Archive event type?",
    text: `“${type.name}” will no longer be offered to webhooks. Those subscribed to it keep receiving it. Saving it again restores it.`,
    action: "Archive",
  });
  if (!confirmed) return;
  try {
    await api("DELETE", typePath(type.name));
    toast(`${type.name} archived.`);
  } catch (err) {
    if (err.status === 401) {
      location.hash = "#/signin";
      return;
    }
    toast(refusal(err));
  }
  // The address is unchanged, so app.js moves no focus: the heading announces the page again.
  await eventTypeList(main);
  main.querySelector("h1")?.focus();
}

// The platform's own type is neither edited nor archived; an archived one is restored by saving.
function actions(main, type) {
  if (type.platform) return h("span", { class: "muted" }, "The platform's own");
  return [
    h("a", { href: editRoute(type.name), "aria-label": `Edit ${type.name}` }, type.archived ? "Edit and restore" : "Edit"),
    type.archived ? null : h("button", { class: "link danger", onclick: () => archive(main, type), "aria-label": `Archive ${type.name}` }, "Archive"),
  ];
}

function typeRow(main, type) {
  return h("tr", {},
    h("th", { scope: "row", "data-label": "Name" }, h("code", {}, type.name)),
    h("td", { "data-label": "Description" }, type.description),
    h("td", { "data-label": "Schema" }, type.schema ? "JSON Schema" : h("span", { class: "muted" }, "None")),
    h("td", { "data-label": "Status" }, stateBadge(type)),
    h("td", { "data-label": "Actions" }, h("div", { class: "row-actions" }, actions(main, type))));
}

// The catalog, or null once the failure is shown in `main`.
async function loadCatalog(main) {
  try {
    return await api("GET", "/event-types");
  } catch (err) {
    failure(main, err);
    return null;
  }
}

export async function eventTypeList(main) {
  const catalog = await loadCatalog(main);
  if (!catalog) return;
  page(main, "Event types",
    h("p", { class: "muted" }, "The events webhooks can subscribe to. A change applies at once, with no deployment."),
    h("div", { class: "toolbar" }, h("a", { class: "button", href: `${EVENT_TYPES_ROUTE}/new` }, "Create event type")),
    h("div", { class: "table" },
      h("table", {},
        h("caption", { class: "visually-hidden" }, "Event types of the catalog"),
        h("thead", {}, h("tr", {}, ["Name", "Description", "Schema", "Status", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, catalog.items.map((type) => typeRow(main, type))))));
}

// ---- Create and edit -------------------------------------------------------------------------

// The body of a PUT from what the form holds, or the field errors found before sending. `taken`
// is set when creating: a PUT of a name in use would replace that type, not create one.
function readForm({ name, description, schema, example }, taken) {
  const errors = {};
  const typedName = name.value.trim();
  if (!typedName) errors.name = "Enter a name, such as review.posted.";
  else if (taken?.has(typedName)) errors.name = `${typedName} exists already: edit it from the list instead.`;
  const typedSchema = readJson(schema, { object: true });
  if (typedSchema.error) errors.schema = typedSchema.error;
  const typedExample = readJson(example);
  if (typedExample.error) errors.example = typedExample.error;
  if (Object.keys(errors).length) return { errors };
  // The PUT replaces the type: no schema is sent as null, no example left out.
  const body = { description: description.value.trim(), schema: typedSchema.value ?? null };
  if (!typedExample.empty) body.example = typedExample.value;
  return { name: typedName, body };
}

// An archived type is restored by saving it: said before the user saves.
function archivedNotice(type) {
  if (!type?.archived) return null;
  return h("div", { class: "notice", id: "archived-notice" },
    h("p", {}, h("strong", {}, "This type is archived. "),
      "It is not offered to webhooks; those subscribed to it keep receiving it. Saving it restores it."));
}

// `name` is the type to edit, or null to create one.
export async function eventTypeForm(main, name) {
  const catalog = await loadCatalog(main);
  if (!catalog) return;
  const type = name === null ? null : catalog.items.find((t) => t.name === name);
  if (name !== null && (!type || type.platform)) {
    failure(main, new Error(type ? `${name} is the platform's own type: it cannot be changed.` : `There is no event type named ${name}.`));
    return;
  }
  const creating = !type;
  const alert = h("div", { role: "alert", class: "alert", tabindex: "-1", hidden: true });
  const controls = {
    // The name is the type's key: changing it would be another type.
    name: h("input", { id: "name", name: "name", required: true, maxlength: 100, readonly: !creating,
      value: type?.name || "", autocomplete: "off", spellcheck: "false", autocapitalize: "off" }),
    description: h("input", { id: "description", name: "description", required: true, value: type?.description || "" }),
    schema: jsonInput("schema", type?.schema, 10),
    example: jsonInput("example", type?.example, 8),
  };

  const save = async (e) => {
    e.preventDefault();
    const read = readForm(controls, creating ? new Set(catalog.items.map((t) => t.name)) : null);
    showErrors(main, alert, read.errors || {});
    if (read.errors) return;
    try {
      await api("PUT", typePath(read.name), { body: read.body });
      toast(`${read.name} ${creating ? "created" : "saved"}.`);
      location.hash = EVENT_TYPES_ROUTE;
    } catch (err) {
      if (err.status === 401) location.hash = "#/signin";
      else if (err.status === 422) showErrors(main, alert, err.fields);
      else {
        replace(alert, refusal(err));
        alert.hidden = false;
        alert.focus();
      }
    }
  };

  page(main, creating ? "Create event type" : `Edit ${type.name}`,
    archivedNotice(type),
    h("form", { class: "card", novalidate: true, onsubmit: save },
      alert,
      field("name", "Name", controls.name, creating
        ? "Dot-separated lowercase words (a-z, 0-9, _), such as review.posted; at most 100 characters. The webhook. and delivery. families are the platform's own."
        : "A type's name never changes."),
      field("description", "Description", controls.description, "Shown to people choosing the events of a webhook."),
      field("schema", "Schema (JSON)", controls.schema,
        "Optional: a JSON Schema (draft 2020-12) of the event's data. Events whose data breaks it are refused when published."),
      field("example", "Example (JSON)", controls.example,
        "Optional: the data of a test event of this type. It must satisfy the schema."),
      h("div", { class: "actions" },
        h("button", { type: "submit" }, creating ? "Create event type" : type.archived ? "Save and restore" : "Save changes"),
        h("a", { class: "button secondary", href: EVENT_TYPES_ROUTE }, "Cancel"))));
}
