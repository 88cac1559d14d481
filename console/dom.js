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
  for (const child of children.flat()) {
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

// Cancel and the dialog's submit button; Cancel closes the dialog it is in.
export function dialogActions(submit) {
  const cancel = h("button", { type: "button", class: "secondary", onclick: (e) => e.target.closest("dialog").close() }, "Cancel");
  return h("div", { class: "actions" }, cancel, submit);
}

// Opens a dialog built for this one opening; closing removes it, so no listener or message
// outlives it.
export function showOnce(dialog) {
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
