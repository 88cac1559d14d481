// The Events part of the webhook form, read from the event catalog (GET /api/event-types), and
// which of the catalog's types a webhook is sent.
import { h } from "./dom.js";

// Whether a webhook listing `eventList` is sent events of catalog type `type`: a type it names,
// and otherwise an active type in a family it names (say "booking.*") or in every event (an empty
// list or "*"). The platform's own types go only to those naming them or their family, and an
// archived type no longer widens a list (docs/contract.md 12 and 13).
export function receives(eventList, type) {
  if (eventList.includes(type.name)) return true;
  if (type.archived) return false;
  const family = eventList.some((entry) => entry.endsWith(".*") && type.name.startsWith(entry.slice(0, -1)));
  return family || (!type.platform && (eventList.length === 0 || eventList.includes("*")));
}

// A checkbox with its label, checked when the webhook lists `entry`.
function option(entry, checked, ...label) {
  const box = h("input", { type: "checkbox", value: entry, id: `event-${entry}`, checked });
  return { box, element: h("div", { class: "checkbox" }, box, h("label", { for: box.id }, h("code", {}, entry), ...label)) };
}

// What a catalog type's checkbox says: its description, and marks for the platform's own notice
// and for an archived type (shown only while the webhook lists it).
function typeLabel(type) {
  return [` — ${type.description}`,
    type.platform ? [" ", h("span", { class: "badge info" }, "From the platform")] : null,
    type.archived ? [" ", h("span", { class: "badge off" }, "Archived")] : null];
}

// What the webhook lists that is no catalog type: a family, or a name the catalog lacks. Shown
// so that saving keeps it, and unchecking removes it.
function entryLabel(entry) {
  return entry.endsWith(".*")
    ? ` — every ${entry.slice(0, -2)} event, including ones added later`
    : [" ", h("span", { class: "badge off" }, "Not in the catalog")];
}

// The fieldset for `catalog` (the API's list) and the webhook's stored `eventList`, and `value()`,
// the eventList to send. A new selection is offered every type but the archived ones.
export function eventPicker(catalog, eventList) {
  const listed = new Set(eventList);
  const known = new Set(catalog.items.map((t) => t.name));
  const all = h("input", { id: "all-events", type: "checkbox", checked: eventList.length === 0 || listed.has("*") });
  const options = [
    ...catalog.items.filter((t) => !t.archived || listed.has(t.name)).map((t) => option(t.name, listed.has(t.name), typeLabel(t))),
    ...eventList.filter((e) => e !== "*" && !known.has(e)).map((e) => option(e, true, entryLabel(e))),
  ];
  const boxes = options.map((o) => o.box);
  // "All events" covers every choice below it, which then do not apply.
  const sync = () => boxes.forEach((box) => { box.disabled = all.checked; });
  all.addEventListener("change", sync);
  sync();

  const element = h("fieldset", { "data-field": "eventList", "aria-describedby": "eventList-error" },
    h("legend", {}, "Events"),
    h("div", { class: "checkbox" }, all, h("label", { for: "all-events" }, "All events, including ones added later")),
    options.map((o) => o.element),
    h("p", { class: "field-error", id: "eventList-error" }));
  return { element, value: () => (all.checked ? [] : boxes.filter((b) => b.checked).map((b) => b.value)) };
}
