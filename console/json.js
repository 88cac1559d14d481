// JSON typed by people: a textarea that shows a value pretty-printed, and reading it back with
// the parser's own message when it is not JSON, so the mistake is shown before any request.
import { h } from "./dom.js";

// A textarea for JSON: `value` shown indented, nothing for none (undefined or null).
export function jsonInput(id, value, rows = 6) {
  const input = h("textarea", { id, name: id, rows, class: "mono", spellcheck: "false", autocomplete: "off", autocapitalize: "off" });
  // A textarea's text is its value, not an attribute: h() cannot set it.
  input.value = value === undefined || value === null ? "" : JSON.stringify(value, null, 2);
  return input;
}

// What `input` holds: `{ empty: true }`, `{ value }`, or `{ error }` to show beside it.
// `object` asks for a JSON object, as a filter or a schema is.
export function readJson(input, { object = false } = {}) {
  const text = input.value.trim();
  if (!text) return { empty: true };
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `Not valid JSON: ${err.message}` };
  }
  if (object && (value === null || typeof value !== "object" || Array.isArray(value))) {
    return { error: "Enter a JSON object, in braces: { … }." };
  }
  return { value };
}
