// The console's pages. Each renders into <main> and returns nothing; errors from the API are
// shown where they belong (beside a field, in the page's alert, or as a toast).
import { ApiError, api, entityPath, session, webhookPath } from "./api.js";
import { authFieldset } from "./auth.js";
import { deliveryFieldset } from "./delivery.js";
import { confirmChoice, field, h, page, replace, showErrors, toast, when } from "./dom.js";
import { eventPicker } from "./events.js";
import { healthPanel, setEnabled } from "./health.js";
import { recoverDeliveries, resendButton, statusFilter } from "./replay.js";
import { keyShown, rotateSecret, secretShown, signatureFieldset } from "./rotation.js";
import { sendTest } from "./test-event.js";

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Where a kind of webhook lives (its API path and console route) and what its form adds to the
// shared fields. The list, form and delivery log serve both kinds: globals.js describes the
// global webhooks the same way.
export const entityWebhooks = {
  route: "#/webhooks",
  title: "Webhooks",
  noun: "webhook",
  caption: "Webhooks of this account",
  get intro() {
    if (session.portal) return portalHelp(session.claims);
    return session.scopes.includes("portal:create") ? PORTAL_HINT : null;
  },
  path: (suffix = "") => entityPath(`/webhook${suffix}`),
  form(value) {
    const ownerName = h("input", { id: "ownerName", name: "ownerName", maxlength: 200, value: value.ownerName || "" });
    return {
      elements: field("ownerName", "Account name", ownerName, "Shown to people managing this account; optional."),
      // The API names the account's fields; the form shows them as one.
      where: { "entity.name": "ownerName", "entity.id": "ownerName" },
      value: () => ({ entity: { id: session.entity, name: ownerName.value.trim() || null } }),
    };
  },
};

// The operator's pointer to the portal (docs/contract.md 16), and the portal's own help for the
// entity's user, who came from the platform's page and knows nothing of tokens or scopes.
const PORTAL_ENDED = "This page's access has ended. Open it again from the platform.";
const PORTAL_HINT = "To let this account manage its own webhooks inside your product, embed the portal: "
  + "your backend, with a token holding the scope portal:create, opens a session "
  + "(POST /api/managing-entity/{entityId}/portal-session) and puts the url it answers in an iframe of your page. "
  + "The README's \"Portal sessions\" says how.";

function portalHelp({ readOnly, exp }) {
  return [
    "Your endpoints receive this platform's events here as signed HTTP POSTs. "
      + "Create a webhook with your endpoint's URL and the events it wants, send it a test, then follow each delivery and the webhook's health.",
    readOnly ? " This page lets you look only: changes are refused. Ask the platform for access that may change them." : "",
    Number.isFinite(exp) ? ` This page works until ${when(exp * 1000)}; reopen it from the platform for more time.` : "",
  ].join("");
}

// A page that could not be shown: the sign-in page for a token no longer accepted, else why.
export function failure(main, err) {
  if (err instanceof ApiError && err.status === 401) {
    // A portal has no sign-in: its session ended, and only the platform's page opens another.
    if (session.portal) page(main, "Webhooks", h("p", { role: "alert", class: "alert" }, PORTAL_ENDED));
    else location.hash = "#/signin";
    return;
  }
  page(main, "Something went wrong", h("p", { role: "alert", class: "alert" }, err.message));
}

// ---- Sign in -------------------------------------------------------------------------------

export function signIn(main) {
  const token = h("textarea", { id: "token", name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: false });
  token.value = session.token;
  const entity = h("input", { id: "entity", name: "entity", required: true, autocomplete: "off", value: session.entity });
  const error = h("p", { class: "field-error", id: "entity-error" });
  const form = h("form", { class: "card", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    if (!UUID.test(entity.value.trim())) {
      entity.setAttribute("aria-invalid", "true");
      replace(error, "Enter the managing entity's id, a UUID.");
      entity.focus();
      return;
    }
    session.save(token.value.trim(), entity.value.trim());
    location.hash = "#/webhooks";
  } },
    h("label", { for: "token" }, "Bearer token"),
    token,
    h("label", { for: "entity" }, "Managing entity id"),
    entity,
    error,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")),
  );
  entity.setAttribute("aria-describedby", "entity-error");
  page(main, "Sign in", h("p", {}, "Paste an API token and choose the account whose webhooks you manage. The token stays in this tab only."), form);
}

// ---- List ----------------------------------------------------------------------------------

// Paused by someone, or disabled by the platform for failing (its page says why).
function statusBadge(webhook) {
  if (webhook.enabled) return h("span", { class: "badge ok" }, "Enabled");
  return webhook.disabledReason
    ? h("span", { class: "badge bad" }, "Disabled")
    : h("span", { class: "badge off" }, "Paused");
}

function deliveryBadge(delivery) {
  if (!delivery) return h("span", { class: "muted" }, "None yet");
  const tone = { succeeded: "ok", failed: "bad", pending: "warn", skipped: "off" }[delivery.status] || "off";
  return h("span", { class: `badge ${tone}`, title: when(delivery.lastAttemptAt) }, delivery.status);
}

export async function list(main, scope = entityWebhooks) {
  const rows = h("tbody");
  const more = h("div", { class: "actions" });
  const columns = ["Name", "URL", scope.column?.label, "Events", "Status", "Last delivery", "Actions"].filter(Boolean);
  page(
    main,
    scope.title,
    scope.intro ? h("p", { class: "muted" }, scope.intro) : null,
    writing(h("div", { class: "toolbar" }, h("a", { class: "button", href: `${scope.route}/new` }, `Create ${scope.noun}`))),
    h("div", { class: "table" },
      h("table", {},
        h("caption", { class: "visually-hidden" }, scope.caption),
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
        rows)),
    more,
  );
  const load = async (cursor) => {
    const query = cursor ? `?limit=20&cursor=${encodeURIComponent(cursor)}` : "?limit=20";
    const data = await api("GET", scope.path(query));
    if (!cursor && data.items.length === 0) {
      rows.append(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, `No ${scope.noun}s yet. Create one to start receiving events.`)));
    }
    for (const webhook of data.items) rows.append(row(main, scope, webhook));
    replace(more, data.nextCursor ? h("button", { class: "secondary", onclick: () => load(data.nextCursor).catch((e) => failure(main, e)) }, "Load more") : null);
  };
  try {
    await load(null);
  } catch (err) {
    failure(main, err);
  }
}

// A control that changes something, which a read-only portal does not offer.
const writing = (control) => (session.readOnly ? null : control);

function row(main, scope, webhook) {
  const last = h("td", { "data-label": "Last delivery" }, h("span", { class: "muted" }, "…"));
  api("GET", webhookPath(scope, webhook.id, "/deliveries?limit=1"))
    .then((page) => replace(last, deliveryBadge(page.items[0])))
    .catch(() => replace(last, h("span", { class: "muted" }, "Unavailable")));
  const events = webhook.eventList.length ? webhook.eventList.join(", ") : "All events";
  const pause = () => setEnabled(scope, webhook, !webhook.enabled, () => list(main, scope));
  const remove = async () => {
    const text = `“${webhook.name}” will stop receiving events. This cannot be undone.`;
    if (!(await confirmChoice({ title: `Remove ${scope.noun}?`, text, action: "Remove" }))) return;
    try {
      await api("DELETE", webhookPath(scope, webhook.id), { ifMatch: webhook.version });
      toast(`${webhook.name} removed.`);
    } catch (err) {
      toast(err.status === 412 ? "Someone else changed this webhook; look again before removing it." : err.message);
    }
    list(main, scope);
  };
  const href = `${scope.route}/${webhook.id}`;
  return h("tr", {},
    h("th", { scope: "row", "data-label": "Name" }, h("a", { href }, webhook.name)),
    h("td", { "data-label": "URL", class: "url" }, webhook.eventUrl),
    scope.column ? h("td", { "data-label": scope.column.label }, scope.column.cell(webhook)) : null,
    h("td", { "data-label": "Events" }, events),
    h("td", { "data-label": "Status" }, statusBadge(webhook)),
    last,
    h("td", { "data-label": "Actions", class: "row-actions" },
      h("a", { href, "aria-label": `Edit ${webhook.name}` }, "Edit"),
      writing(h("button", { class: "link", onclick: pause, "aria-label": `${webhook.enabled ? "Pause" : "Resume"} ${webhook.name}` }, webhook.enabled ? "Pause" : "Resume")),
      writing(h("button", { class: "link", onclick: () => sendTest(scope, webhook), "aria-label": `Send a test event to ${webhook.name}` }, "Send test")),
      h("a", { href: `${href}/deliveries`, "aria-label": `Deliveries of ${webhook.name}` }, "Deliveries"),
      writing(h("button", { class: "link", onclick: () => rotateSecret(main, scope, webhook, () => list(main, scope)), "aria-label": `Rotate secret of ${webhook.name}` }, "Rotate secret")),
      writing(h("button", { class: "link danger", onclick: remove, "aria-label": `Remove ${webhook.name}` }, "Remove"))));
}

// ---- Create and edit -------------------------------------------------------------------------

function headerRow(name = "", value = "") {
  const row = h("div", { class: "header-row" },
    h("input", { "aria-label": "Header name", placeholder: "X-Api-Key", value: name, class: "header-name" }),
    h("input", { "aria-label": "Header value", value, class: "header-value" }),
    h("button", { type: "button", class: "secondary", onclick: () => row.remove() }, "Remove header"));
  return row;
}

export async function edit(main, id, scope = entityWebhooks) {
  let catalog;
  let webhook = null;
  try {
    [catalog, webhook] = await Promise.all([
      api("GET", "/event-types"),
      id ? api("GET", webhookPath(scope, id)) : Promise.resolve(null),
    ]);
  } catch (err) {
    failure(main, err);
    return;
  }
  const creating = !webhook;
  const value = webhook || { name: "", ownerName: "", eventUrl: "", enabled: true, eventList: [], headers: {}, sendData: true,
    filter: null, rateLimit: null, ordering: "unordered" };

  const alert = h("div", { role: "alert", class: "alert", tabindex: "-1", hidden: true });
  const name = h("input", { id: "name", name: "name", required: true, maxlength: 100, value: value.name });
  const extra = scope.form(value);
  const eventUrl = h("input", { id: "eventUrl", name: "eventUrl", type: "url", required: true, value: value.eventUrl, placeholder: "https://api.example.com/webhooks" });
  const enabled = h("input", { id: "enabled", type: "checkbox", checked: value.enabled });
  const events = eventPicker(catalog, value.eventList);
  const delivery = deliveryFieldset(value);
  const headers = h("div", { id: "headers", class: "headers" }, Object.entries(value.headers).map(([k, v]) => headerRow(k, v)));
  const full = h("input", { type: "radio", name: "payload", id: "payload-full", value: "full", checked: value.sendData });
  const thin = h("input", { type: "radio", name: "payload", id: "payload-thin", value: "ids", checked: !value.sendData });
  const auth = authFieldset(value.auth);
  const signature = signatureFieldset(webhook);

  const document_ = () => ({
    name: name.value,
    ...extra.value(),
    eventUrl: eventUrl.value.trim(),
    enabled: enabled.checked,
    eventList: events.value(),
    ...delivery.value(),
    headers: Object.fromEntries([...headers.querySelectorAll(".header-row")]
      .map((r) => [r.querySelector(".header-name").value.trim(), r.querySelector(".header-value").value])
      .filter(([k]) => k)),
    sendData: full.checked,
    auth: auth.value(),
  });

  const errors = (fields) => showErrors(main, alert, fields, extra.where);

  const save = async (e) => {
    e.preventDefault();
    alert.hidden = true;
    // Both parts' mistakes at once, before a round trip.
    const invalid = { ...extra.check?.(), ...delivery.check() };
    if (Object.keys(invalid).length) {
      errors(invalid);
      return;
    }
    try {
      if (creating) {
        const body = { ...document_(), signature: signature.value() };
        const created = await api("POST", scope.path(), { body });
        secretShown(main, scope, keyShown(created.name, created, `${scope.noun[0].toUpperCase()}${scope.noun.slice(1)} created`));
      } else {
        await api("PUT", webhookPath(scope, webhook.id), { body: { ...document_(), version: webhook.version } });
        toast(`${name.value} saved.`);
        location.hash = scope.route;
      }
    } catch (err) {
      if (err.status === 422) {
        errors(err.fields);
        return;
      }
      if (err.status === 409 || err.status === 412) {
        replace(alert,
          h("p", {}, `Someone else changed this webhook while you were editing it (it is now at version ${err.problem.properties?.currentVersion}). Your changes were not saved.`),
          h("button", { type: "button", onclick: () => edit(main, webhook.id, scope) }, "Reload the latest version"));
      } else {
        replace(alert, (err.status === 404 && scope.notFound) || err.message);
      }
      alert.hidden = false;
      alert.focus();
    }
  };

  page(main, creating ? `Create ${scope.noun}` : `Edit ${webhook.name}`,
    h("form", { class: "card", novalidate: true, onsubmit: save },
      alert,
      field("name", "Name", name),
      extra.elements,
      field("eventUrl", "Endpoint URL", eventUrl, "Where events are POSTed. Must be https."),
      h("div", { class: "field checkbox" }, enabled, h("label", { for: "enabled" }, "Enabled: send events to this endpoint")),
      events.element,
      delivery.element,
      h("fieldset", { "data-field": "headers" },
        h("legend", {}, "Custom headers"),
        h("p", { class: "hint" }, "Sent with every delivery, e.g. an API key your endpoint expects."),
        headers,
        h("button", { type: "button", class: "secondary", onclick: () => { const r = headerRow(); headers.append(r); r.querySelector("input").focus(); } }, "Add header"),
        h("p", { class: "field-error", id: "headers-error" })),
      h("fieldset", { "data-field": "sendData" },
        h("legend", {}, "Payload"),
        h("div", { class: "checkbox" }, full, h("label", { for: "payload-full" }, "Full payload: event data included")),
        h("div", { class: "checkbox" }, thin, h("label", { for: "payload-thin" }, "Ids only: fetch details from the API"))),
      auth.element,
      signature.element,
      h("p", { class: "field-error", id: "version-error" }),
      h("div", { class: "actions" },
        h("button", { type: "submit" }, creating ? `Create ${scope.noun}` : "Save changes"),
        h("a", { class: "button secondary", href: scope.route }, "Cancel"))));
}

// ---- Delivery log ---------------------------------------------------------------------------

export async function deliveries(main, id, scope = entityWebhooks) {
  let webhook;
  try {
    webhook = await api("GET", webhookPath(scope, id));
  } catch (err) {
    failure(main, err);
    return;
  }
  const rows = h("div", { class: "deliveries" });
  const more = h("div", { class: "actions" });
  const filter = statusFilter(() => show());
  // After a resend or a recovery: the answer at once, then the log as it is when `logged`, if
  // given, holds of its newest page (or after 10 s), with the new deliveries on top.
  const after = async (message, logged) => {
    toast(message);
    try {
      for (let i = 0; logged && i < 20 && rows.isConnected; i++) {
        if (logged((await api("GET", webhookPath(scope, id, "/deliveries?limit=20"))).items)) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    } catch {
      // show() meets the same error and reports it.
    }
    if (rows.isConnected) await show();
  };
  // The pressed Resend went with its row: focus goes to the top of the log, where the new one is.
  const resent = async (message, logged) => {
    await after(message, logged);
    rows.querySelector("summary")?.focus();
  };
  // After Enable again: the page as it then is, announced as a new page.
  const reload = async () => {
    await deliveries(main, id, scope);
    main.querySelector("h1")?.focus();
  };
  page(main, `Deliveries of ${webhook.name}`,
    h("p", {}, h("a", { href: scope.route }, `Back to ${scope.title.toLowerCase()}`), " · ", h("span", { class: "url" }, webhook.eventUrl)),
    healthPanel(scope, webhook, reload),
    h("h2", {}, "Delivery log"),
    h("div", { class: "toolbar" }, filter.element,
      h("button", { type: "button", class: "secondary", onclick: () => recoverDeliveries(scope, webhook, after) }, "Recover since…")),
    rows, more);
  // Each showing of the log is numbered: a page answered after a newer showing began (the filter
  // changed meanwhile) is dropped rather than mixed in.
  let shown = 0;
  const load = async (cursor, showing) => {
    const status = filter.status();
    const query = `?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}${status ? `&status=${status}` : ""}`;
    const data = await api("GET", webhookPath(scope, id, `/deliveries${query}`));
    if (showing !== shown) return;
    if (!cursor) replace(rows, data.items.length ? null : h("p", { class: "muted" }, status ? `No ${status} deliveries.` : "Nothing delivered yet."));
    for (const d of data.items) rows.append(delivery(d, resendButton(scope, webhook, d, resent)));
    replace(more, data.nextCursor
      ? h("button", { class: "secondary", onclick: () => load(data.nextCursor, showing).catch((e) => failure(main, e)) }, "Load more")
      : null);
  };
  const show = async () => {
    try {
      await load(null, ++shown);
    } catch (err) {
      failure(main, err);
    }
  };
  await show();
}

function delivery(d, resend) {
  const attempts = d.attempts.map((a) => h("tr", {},
    h("td", { "data-label": "Attempt" }, String(a.attempt)),
    h("td", { "data-label": "At" }, when(a.at)),
    h("td", { "data-label": "Status" }, a.statusCode === null ? "—" : String(a.statusCode)),
    h("td", { "data-label": "Duration" }, `${a.durationMs} ms`),
    h("td", { "data-label": "Error" }, a.error || "—"),
    h("td", { "data-label": "Response" }, a.responseBody ? h("pre", {}, a.responseBody) : "—")));
  // Resend sits beside the disclosure, not in its summary: a button there would also toggle it.
  return h("div", { class: "delivery" }, h("details", {},
    h("summary", {},
      deliveryBadge(d), " ", h("code", {}, d.eventType), " ",
      h("span", { class: "muted" }, `${d.attempts.length} attempt${d.attempts.length === 1 ? "" : "s"} · ${when(d.lastAttemptAt)}`)),
    h("p", { class: "muted" }, `Event ${d.eventId}`, d.nextAttemptAt ? ` · next attempt ${when(d.nextAttemptAt)}` : ""),
    attempts.length
      ? h("div", { class: "table" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Attempt", "At", "Status", "Duration", "Error", "Response"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, attempts)))
      : h("p", { class: "muted" }, d.status === "pending" ? "Not attempted yet." : "No attempt was made: the webhook was paused or removed.")),
    resend);
}
