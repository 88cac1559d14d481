// Send test: a modal dialog that sends one signed test event to a webhook now and shows its
// receiver's answer. The event may be of a type the webhook is sent, with data of one's own
// (replacing the type's example); for a webhook with a filter it also says whether the filter
// matches that event, which is how to try a filter out. The test itself is sent whatever the
// filter says.
import { api, webhookPath } from "./api.js";
import { dialogActions, field, h, replace, showErrors, showOnce } from "./dom.js";
import { receives } from "./events.js";
import { jsonInput, readJson } from "./json.js";

// The catalog's types `webhook` is sent, or null when the token is no longer accepted. Without
// the catalog the dialog still sends the plain test event.
async function typesSent(webhook) {
  try {
    return (await api("GET", "/event-types")).items.filter((t) => receives(webhook.eventList, t));
  } catch (err) {
    if (err.status !== 401) return [];
    location.hash = "#/signin";
    return null;
  }
}

const pretty = (example) => (example === undefined || example === null ? "" : JSON.stringify(example, null, 2));

function answer(webhook, r) {
  return r.delivered
    ? `Test to ${webhook.name} delivered: ${r.statusCode} in ${r.durationMs} ms.`
    : `Test to ${webhook.name} failed: ${r.error || `status ${r.statusCode}`} (${r.durationMs} ms).`;
}

// Whether a real event like the test would be delivered; only a webhook with a filter has a say.
function verdict(webhook, r) {
  if (webhook.filter === null || webhook.filter === undefined) return null;
  return h("p", { id: "test-filter", class: `verdict ${r.filterMatches ? "matches" : "misses"}` }, r.filterMatches
    ? "Filter: matches. An event like this one is delivered to this webhook."
    : "Filter: does not match. An event like this one is not delivered to this webhook; only the test was sent.");
}

// Opens the dialog for `webhook` of `scope` (an account's webhooks or the global ones).
export async function sendTest(scope, webhook) {
  const types = await typesSent(webhook);
  if (!types) return;
  const eventType = h("select", { id: "eventType", name: "eventType", autofocus: true },
    h("option", { value: "" }, "webhook.test (a test event)"),
    types.map((t) => h("option", { value: t.name }, t.name)));
  const data = jsonInput("data", null, 8);
  const alert = h("div", { role: "alert", class: "alert", tabindex: "-1", hidden: true });
  const result = h("div", { id: "test-result", role: "status", class: "result" });
  const submit = h("button", { type: "submit" }, "Send test");

  // The data starts as the chosen type's example, ready to change; what the user typed stays
  // when the type changes, only an example shown before is replaced.
  let example = "";
  eventType.addEventListener("change", () => {
    const next = pretty(types.find((t) => t.name === eventType.value)?.example);
    if (!data.value.trim() || data.value === example) data.value = next;
    example = next;
  });

  // One test at a time, each answer replacing the one before. The button stays enabled, as
  // disabling it would take the focus away from it, and from the dialog.
  let sending = false;
  const send = async (e) => {
    e.preventDefault();
    if (sending) return;
    const typed = readJson(data);
    if (typed.error) {
      showErrors(dialog, alert, { data: typed.error });
      return;
    }
    // What an earlier press showed goes.
    showErrors(dialog, alert, {});
    const body = {};
    if (eventType.value) body.eventType = eventType.value;
    if (!typed.empty) body.data = typed.value;
    sending = true;
    result.className = "result";
    replace(result, `Sending a test event to ${webhook.name}…`);
    try {
      const r = await api("POST", webhookPath(scope, webhook.id, "/test"), { body: Object.keys(body).length ? body : undefined });
      replace(result, h("p", {}, answer(webhook, r)), verdict(webhook, r));
      result.className = `result ${r.delivered ? "ok" : "bad"}`;
    } catch (err) {
      replace(result);
      if (err.status === 401) {
        dialog.close();
        location.hash = "#/signin";
      } else if (err.status === 422) {
        showErrors(dialog, alert, err.fields);
      } else {
        replace(alert, err.message);
        alert.hidden = false;
        alert.focus();
      }
    } finally {
      sending = false;
    }
  };

  const dialog = h("dialog", { class: "wide", "aria-labelledby": "test-title", "aria-describedby": "test-text" },
    h("form", { novalidate: true, onsubmit: send },
      h("h2", { id: "test-title" }, `Send a test event to ${webhook.name}`),
      h("p", { id: "test-text" }, "One signed request, sent now; the receiver's answer is shown here."),
      alert,
      field("eventType", "Event type", eventType),
      field("data", "Data (JSON)", data,
        "Optional: replaces the example of the type chosen, say to see whether other data would match the filter."),
      result,
      dialogActions(submit, "Close")));
  showOnce(dialog);
}
