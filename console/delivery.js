// The "Delivery" part of the webhook form: which events are delivered (the content filter), how
// fast (the rate limit) and in which order (docs/contract.md 14). All three are optional; the form sends
// null for no filter and no limit, so a save also clears them.
import { field, h } from "./dom.js";
import { jsonInput, readJson } from "./json.js";

const MAX_RATE = 10_000;
const ORDERINGS = [["unordered", "Unordered (concurrent)"], ["fifo", "FIFO (one at a time, in publish order)"]];
const FILTER_EXAMPLE = '{"data": {"total": {"currency": "USD"}, "guests": {"adults": {"$gte": 2}}}}';

// The rate limit typed, or an error. A number input holds "" both when empty and when what is
// typed is no number, which only `badInput` tells apart.
function readRate(input) {
  if (input.validity.badInput) return { error: `Enter a whole number from 1 to ${MAX_RATE.toLocaleString("en")}, or nothing.` };
  if (!input.value.trim()) return { value: null };
  const rate = Number(input.value);
  if (!Number.isInteger(rate) || rate < 1 || rate > MAX_RATE) {
    return { error: `Enter a whole number from 1 to ${MAX_RATE.toLocaleString("en")}, or nothing for no limit.` };
  }
  return { value: rate };
}

function filterHint() {
  return h("span", {},
    "Optional: only events matching this JSON object are delivered, checked against the event body ",
    h("code", {}, '{"id", "type", "occurredAt", "ownerIdentifier", "data"}'),
    ". A plain value must be equal and an object descends; the operators are ",
    h("code", {}, "$eq $neq $gt $gte $lt $lte $in $nin $exists $startsWith $and $or $not"),
    ". For example ", h("code", {}, FILTER_EXAMPLE), ". Empty: every event.");
}

// `value` is the webhook (or the new one's defaults). Returns the fieldset, `check()` (the field
// errors found before sending, or null) and `value()`, the fields to send.
export function deliveryFieldset(value) {
  const filter = jsonInput("filter", value.filter, 8);
  const rateLimit = h("input", { id: "rateLimit", name: "rateLimit", type: "number", min: 1, max: MAX_RATE, step: 1,
    inputmode: "numeric", value: value.rateLimit ?? "" });
  const ordering = h("select", { id: "ordering", name: "ordering" },
    ORDERINGS.map(([option, label]) => h("option", { value: option, selected: (value.ordering || "unordered") === option }, label)));

  const check = () => {
    const errors = {};
    const typed = readJson(filter, { object: true });
    if (typed.error) errors.filter = typed.error;
    const rate = readRate(rateLimit);
    if (rate.error) errors.rateLimit = rate.error;
    return Object.keys(errors).length ? errors : null;
  };
  // Called after check() found nothing.
  const read = () => ({
    filter: readJson(filter, { object: true }).value ?? null,
    rateLimit: readRate(rateLimit).value,
    ordering: ordering.value,
  });

  const element = h("fieldset", {},
    h("legend", {}, "Delivery"),
    field("filter", "Filter (JSON)", filter, filterHint()),
    field("rateLimit", "Rate limit (deliveries per second)", rateLimit,
      `Optional, 1 to ${MAX_RATE.toLocaleString("en")}. Deliveries over the limit wait their turn; none is dropped. Empty: no limit.`),
    field("ordering", "Ordering", ordering,
      "FIFO delivers one event at a time, in the order they were published: a delivery being retried holds back the ones after it."));
  return { element, check, value: read };
}
