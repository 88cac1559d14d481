// Builds DOM nodes. Text always goes in as text, never as markup, so data from the API
// cannot inject HTML.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

// Builds SVG nodes, which live in a namespace of their own. Attributes only: a chart has no
// listeners.
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A page in <main>: its heading, which app.js focuses after navigation, then its content.
export function page(main, title, ...content) {
  replace(main, h("h1", { tabindex: "-1" }, title), ...content);
}

// Says `message` in the page's status region for a few seconds.
export function toast(message) {
  const region = document.getElementById("toast");
  replace(region, message);
  region.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => region.classList.remove("shown"), 6000);
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

// A labelled control with its hint and the place its validation message goes (`${id}-error`,
// where the API's field name `id` puts it).
export function field(id, label, control, hint) {
  const error = h("p", { class: "field-error", id: `${id}-error` });
  control.setAttribute("aria-describedby", `${id}-error${hint ? ` ${id}-hint` : ""}`);
  return h("div", { class: "field", "data-field": id },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    control, error);
}

// Cancel (or `dismiss`, say "Close" where something was done already) and the dialog's submit
// button; the first closes the dialog it is in.
export function dialogActions(submit, dismiss = "Cancel") {
  const cancel = h("button", { type: "button", class: "secondary", onclick: (e) => e.target.closest("dialog").close() }, dismiss);
  return h("div", { class: "actions" }, cancel, submit);
}

// The field a part belongs to: "entities" of "entities[2]", "filter" of the JSON pointer
// "/filter/data/$gtee".
const fieldOf = (name) => name.replace(/^\//, "").split(/[.[/]/)[0];

// Shows the field errors of a form in `container` ({ field: message }, by the API's names) and
// focuses the first control to fix. Each goes beside its field (the `${id}-error` element of
// `field()`), found by its name or the one `where` maps it to; an error about a part of a field
// goes beside the field with the part's path in front, as that says where to look. The rest go
// in `alert`: an error the form has no field for still gets its answer.
export function showErrors(container, alert, fields, where = {}) {
  const errorOf = (id) => container.querySelector(`#${CSS.escape(id)}-error`);
  const placed = (...ids) => ids.find((id) => id && errorOf(id));
  container.querySelectorAll(".field-error").forEach((p) => replace(p));
  container.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  let first = null;
  const unplaced = [];
  for (const [name, message] of Object.entries(fields)) {
    const whole = placed(where[name], name);
    const id = whole || placed(where[fieldOf(name)], fieldOf(name));
    if (!id) {
      unplaced.push(`${name}: ${message}`);
      continue;
    }
    const error = errorOf(id);
    const text = whole ? message : `${name}: ${message}`;
    error.append(error.textContent ? ` ${text}` : text);
    const control = container.querySelector(`[data-field="${id}"] :is(input, select, textarea)`);
    control?.setAttribute("aria-invalid", "true");
    first = first || control;
  }
  replace(alert, unplaced.join(" "));
  alert.hidden = !unplaced.length;
  (first || (unplaced.length ? alert : null))?.focus();
}

// Asks in the page's confirmation dialog (index.html): `title`, `text`, and `action` on the
// confirming button. Resolves true when the user confirms. It listens to `submit` and
// `cancel`, which fire synchronously with the user's action: `close` is queued, so a late
// `close` of an earlier opening could otherwise answer this one.
export function confirmChoice({ title, text, action }) {
  const dialog = document.getElementById("confirm");
  const form = dialog.querySelector("form");
  replace(document.getElementById("confirm-title"), title);
  replace(document.getElementById("confirm-text"), text);
  replace(form.querySelector('button[value="confirm"]'), action);
  return new Promise((resolve) => {
    const finish = (answer) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("cancel", onCancel);
      resolve(answer);
    };
    const onSubmit = (event) => finish(event.submitter?.value === "confirm");
    const onCancel = () => finish(false);
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
  });
}

// Opens a dialog built for this one opening; closing removes it, so no listener or message
// outlives it.
export function showOnce(dialog) {
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
