// Global webhooks: one subscription for many managing entities, at /api/webhook. They share the
// account webhooks' list, form and delivery log (pages.js); this says where they live and adds
// the entities they cover to the form and the list. The session's entity plays no part.
import { field, h } from "./dom.js";
import { UUID } from "./pages.js";

const MAX_ENTITIES = 1000;

// "All entities", or the count with the ids behind a disclosure: a webhook may list 1000.
function entitiesCell(webhook) {
  if (webhook.entities === "*") return "All entities";
  const ids = Array.isArray(webhook.entities) ? webhook.entities : [];
  return h("details", { class: "entities" },
    h("summary", {}, `${ids.length} ${ids.length === 1 ? "entity" : "entities"}`),
    h("ul", {}, ids.map((id) => h("li", {}, h("code", {}, id)))));
}

// Ids as people paste them: one a line, or separated by commas or spaces.
const parse = (text) => text.split(/[\s,]+/).filter(Boolean);

// `entities` is "*" or a list of ids, replaced as a whole on save.
function entitiesForm(value) {
  const all = h("input", { id: "all-entities", type: "checkbox", checked: value.entities === "*" });
  const ids = h("textarea", { id: "entities", name: "entities", rows: 4, autocomplete: "off", spellcheck: false,
    placeholder: "d5b8a3c2-9e6f-4a1b-8d34-7c2e1f0a5b69" });
  ids.value = Array.isArray(value.entities) ? value.entities.join("\n") : "";
  // The typed ids stay while "All entities" is chosen, so unchecking it brings them back.
  const sync = () => { ids.disabled = all.checked; };
  all.addEventListener("change", sync);
  sync();

  // Field errors as the API gives them, or null: the same checks, before a round trip.
  const check = () => {
    if (all.checked) return null;
    const list = parse(ids.value);
    const bad = list.filter((id) => !UUID.test(id));
    if (bad.length) return { entities: `Not an entity id (a UUID): ${bad.slice(0, 3).join(", ")}${bad.length > 3 ? ", …" : ""}` };
    if (!list.length) return { entities: "Enter at least one entity id, or choose All entities." };
    const count = new Set(list.map((id) => id.toLowerCase())).size;
    if (count > MAX_ENTITIES) return { entities: `At most ${MAX_ENTITIES} entity ids; there are ${count}.` };
    return null;
  };

  const element = h("fieldset", {},
    h("legend", {}, "Entities"),
    h("div", { class: "checkbox" }, all, h("label", { for: "all-entities" }, "All entities, including ones added later")),
    field("entities", "Entity ids", ids,
      `One UUID a line, or separated by commas or spaces; up to ${MAX_ENTITIES}. Your token must cover every one.`));
  return {
    elements: element,
    check,
    value: () => ({ entities: all.checked ? "*" : [...new Set(parse(ids.value).map((id) => id.toLowerCase()))] }),
  };
}

export const globalWebhooks = {
  route: "#/global-webhooks",
  title: "Global webhooks",
  noun: "global webhook",
  caption: "Global webhooks your token covers",
  intro: "One subscription for many accounts. Listed here are those whose every account your token covers.",
  path: (suffix = "") => `/webhook${suffix}`,
  // The API answers 404 alike for a webhook that is gone and for entities the token lacks.
  notFound: "Not saved: your token does not cover every entity listed (or this webhook has been removed).",
  column: { label: "Entities", cell: entitiesCell },
  form: entitiesForm,
};
