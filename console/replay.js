// Replaying from the delivery log: resend one delivery, recover a time window's failed or
// skipped ones, and the log's status filter. A replay is a new delivery of the same event (the
// same webhook-id), so a receiver that deduplicates by it sees a repeat, not a new event.
import { api, webhookPath } from "./api.js";
import { dialogActions, field, h, replace, showOnce } from "./dom.js";

const STATUSES = [["", "All"], ["pending", "Pending"], ["succeeded", "Succeeded"], ["failed", "Failed"], ["skipped", "Skipped"]];
const HOUR = 3_600_000;

// A datetime-local value (local time, no zone, to the minute) for `date`.
const localValue = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

// A 401: the token has expired or was replaced; the sign-in page asks again.
function toSignIn(dialog) {
  dialog?.close();
  location.hash = "#/signin";
}

/** The log's status filter: `element` to show, `status()` the one chosen ("" for all). */
export function statusFilter(onChange) {
  const select = h("select", { id: "status-filter", name: "status", onchange: onChange },
    STATUSES.map(([value, label]) => h("option", { value }, label)));
  return {
    element: h("div", { class: "filter" }, h("label", { for: "status-filter" }, "Status"), select),
    status: () => select.value,
  };
}

// `done(message, logged)`, given by the log, tells the user and shows the log again once
// `logged(items)` holds of its first page: a replay is logged after its first attempt, a moment
// after the API answers.

// The Resend button of `delivery`.
export function resendButton(scope, webhook, delivery, done) {
  // The last characters: a UUIDv7 starts with its time, the same for deliveries a minute apart.
  const short = delivery.deliveryId.slice(-8);
  const resend = async () => {
    // One press, one new delivery.
    button.disabled = true;
    try {
      const { deliveryId } = await api("POST", webhookPath(scope, webhook.id, `/deliveries/${encodeURIComponent(delivery.deliveryId)}/resend`));
      await done("Resent as a new delivery.", (items) => items.some((d) => d.deliveryId === deliveryId));
    } catch (err) {
      button.disabled = false;
      if (err.status === 401) toSignIn();
      else await done(err.status === 404 ? "Not resent: this delivery or its event is no longer kept." : err.message);
    }
  };
  const button = h("button", { type: "button", class: "link resend", onclick: resend,
    "aria-label": `Resend ${delivery.eventType} delivery …${short}` }, "Resend");
  return button;
}

// Asks in a modal dialog for a window and the statuses to resend, then resends every delivery
// of `webhook` they hold, oldest first.
export function recoverDeliveries(scope, webhook, done) {
  const since = h("input", { id: "since", name: "since", type: "datetime-local", required: true, autofocus: true,
    value: localValue(new Date(Date.now() - HOUR)) });
  const until = h("input", { id: "until", name: "until", type: "datetime-local" });
  const failed = h("input", { type: "checkbox", id: "statuses-failed", value: "failed", checked: true });
  const skipped = h("input", { type: "checkbox", id: "statuses-skipped", value: "skipped" });
  const alert = h("div", { role: "alert", class: "alert", tabindex: "-1", hidden: true });
  const submit = h("button", { type: "submit" }, "Resend deliveries");
  // Where each of the API's fields is shown, and what its error marks.
  const controls = { since: [since], until: [until], statuses: [failed, skipped] };
  const errorOf = (name) => dialog.querySelector(`#${name}-error`);

  const clear = () => {
    Object.keys(controls).forEach((name) => replace(errorOf(name)));
    dialog.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    alert.hidden = true;
  };
  const showErrors = (fields) => {
    let first = null;
    const rest = [];
    for (const [name, message] of Object.entries(fields)) {
      if (!controls[name]) {
        rest.push(`${name}: ${message}`);
        continue;
      }
      replace(errorOf(name), message);
      controls[name].forEach((control) => control.setAttribute("aria-invalid", "true"));
      first = first || controls[name][0];
    }
    // A field this dialog does not show still gets its answer.
    replace(alert, rest.join(" "));
    alert.hidden = !rest.length;
    (first || alert).focus();
  };
  // The checks the API makes that need no clock; a half-typed time has the value "".
  const check = (statuses) => {
    const errors = {};
    if (since.validity.badInput || !since.value) errors.since = "Enter a date and time.";
    if (until.validity.badInput) errors.until = "Enter a whole date and time, or nothing.";
    if (!statuses.length) errors.statuses = "Choose failed, skipped or both.";
    return Object.keys(errors).length ? errors : null;
  };

  const recover = async (e) => {
    e.preventDefault();
    clear();
    const statuses = [failed, skipped].filter((box) => box.checked).map((box) => box.value);
    const invalid = check(statuses);
    if (invalid) {
      showErrors(invalid);
      return;
    }
    // The inputs hold local times; the API takes instants.
    const body = { since: new Date(since.value).toISOString(), statuses };
    if (until.value) body.until = new Date(until.value).toISOString();
    // One request at a time: a second would resend the same deliveries again.
    submit.disabled = true;
    try {
      // Delivery ids are UUIDv7, in time order: the resent ones sort after the newest one now.
      const [newest] = (await api("GET", webhookPath(scope, webhook.id, "/deliveries?limit=1"))).items;
      const { deliveries } = await api("POST", webhookPath(scope, webhook.id, "/recover"), { body });
      dialog.close();
      // The log reads 20 at a time: that many new ones fill its first page.
      const resent = (items) => items.filter((d) => !newest || d.deliveryId > newest.deliveryId).length;
      await done(`${deliveries} ${deliveries === 1 ? "delivery" : "deliveries"} resent.`,
        (items) => resent(items) >= Math.min(deliveries, 20));
    } catch (err) {
      submit.disabled = false;
      if (err.status === 401) toSignIn(dialog);
      else if (err.status === 422) showErrors(err.fields);
      else {
        replace(alert, err.message);
        alert.hidden = false;
        alert.focus();
      }
    }
  };

  const dialog = h("dialog", { "aria-labelledby": "recover-title", "aria-describedby": "recover-text" },
    h("form", { novalidate: true, onsubmit: recover },
      h("h2", { id: "recover-title" }, `Recover deliveries of ${webhook.name}`),
      h("p", { id: "recover-text" }, "Each delivery made in this window with a status you choose is sent again, oldest first, as a new delivery of its event."),
      alert,
      field("since", "Since", since, "Your local time, within the last 30 days."),
      field("until", "Until", until, "Optional: leave empty for up to now."),
      h("fieldset", { "data-field": "statuses", "aria-describedby": "statuses-error" },
        h("legend", {}, "Deliveries to resend"),
        h("div", { class: "checkbox" }, failed, h("label", { for: "statuses-failed" }, "Failed")),
        h("div", { class: "checkbox" }, skipped, h("label", { for: "statuses-skipped" }, "Skipped (missed while paused)")),
        h("p", { class: "field-error", id: "statuses-error" })),
      dialogActions(submit)));
  showOnce(dialog);
}
