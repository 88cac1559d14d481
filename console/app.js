// The console's entry: signs in from a link's fragment, routes on the hash, keeps focus sane.
import { claimsOf, session } from "./api.js";
import { CATALOG_SCOPE, EVENT_TYPES_ROUTE, eventTypesRoute } from "./catalog.js";
import { h, replace } from "./dom.js";
import { globalWebhooks } from "./globals.js";
import { deliveries, edit, entityWebhooks, list, signIn } from "./pages.js";

// A link like /#token=...&entity=... signs in once; the token then leaves the address bar. Anyone
// can send such a link, so one that would replace the token already held asks first. A portal
// link (/portal#token=...) is a session for its token's one entity, which it always takes.
function adoptFragmentToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("token")) return;
  const offered = params.get("token");
  if (session.portal) session.save(offered, claimsOf(offered).entity || "");
  else {
    const replacing = session.token && session.token !== offered;
    if (!replacing || confirm("This link signs you in with another token, as someone else perhaps. Switch to it?")) {
      session.save(offered, params.get("entity") || session.entity);
    }
  }
  // A portal keeps its query (the host page's theme and origin); the console drops it, so that the
  // next link with a token is a new page load.
  history.replaceState(null, "", `${location.pathname}${session.portal ? location.search : ""}#/webhooks`);
}

// The page that frames a portal is the one its session names: the server lets only the URL's
// ?origin= frame it, and the console runs only when that is the session's own allowedOrigin.
function portalRefusal() {
  if (!session.token) return "This portal link is not valid. Ask the page that sent you here for a new one.";
  const origin = new URLSearchParams(location.search).get("origin");
  const allowed = session.claims.allowedOrigin;
  if ((origin || allowed) && origin !== allowed) return "This portal may not be shown on this page.";
  if (window.top !== window && !allowed) return "This portal may not be shown on this page.";
  return null;
}

// A host page themes the portal through its URL: ?theme=light|dark, ?primary=<colour>,
// ?font=<family>, which set style.css's variables (its own CSS cannot reach another origin's frame).
function applyTheme() {
  const params = new URLSearchParams(location.search);
  const root = document.documentElement;
  const theme = params.get("theme");
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
  const primary = params.get("primary");
  if (primary && CSS.supports("color", primary)) root.style.setProperty("--accent", primary);
  const font = params.get("font");
  if (font && CSS.supports("font-family", font)) root.style.setProperty("--font", font);
}

// The two kinds of webhook and, for the operator, the event catalog; the current one marked for
// assistive technology.
function renderNav(path) {
  const nav = document.getElementById("nav");
  const current = `#/${path.split("/")[1]}`;
  const link = (route, label) => h("a", { href: route, "aria-current": route === current && "page" }, label);
  if (!session.token) replace(nav);
  else if (session.portal) replace(nav, link(entityWebhooks.route, "Webhooks"));
  else {
    replace(nav, link(entityWebhooks.route, "Account webhooks"), link(globalWebhooks.route, "Global webhooks"),
      session.scopes.includes(CATALOG_SCOPE) ? link(EVENT_TYPES_ROUTE, "Event types") : null);
  }
}

function renderSession() {
  const bar = document.getElementById("session");
  if (!session.token) {
    replace(bar);
    return;
  }
  if (session.portal) {
    const { entityName, readOnly } = session.claims;
    replace(bar, h("strong", { class: "entity-name" }, entityName || session.entity),
      readOnly ? h("span", { class: "badge info" }, "Read only") : null);
    return;
  }
  replace(bar,
    h("span", { class: "muted" }, "Account "), h("code", {}, session.entity.slice(0, 8) + "…"),
    h("a", { href: "#/signin" }, "Switch"),
    h("button", { class: "link", onclick: () => { session.clear(); location.hash = "#/signin"; } }, "Sign out"));
}

async function route() {
  const main = document.getElementById("main");
  let path = location.hash.replace(/^#/, "") || "/webhooks";
  const refusal = session.portal && portalRefusal();
  if (refusal) {
    replace(main, h("h1", { tabindex: "-1" }, "Webhooks"), h("p", { class: "alert", role: "alert" }, refusal));
    return;
  }
  // A portal has its entity's webhooks only: no global ones, no catalog, no signing in.
  if (session.portal && !/^\/webhooks(\/|$)/.test(path)) path = "/webhooks";
  renderSession();
  renderNav(path);
  if (!session.token && path !== "/signin") {
    location.hash = "#/signin";
    return;
  }
  // Both kinds have the same pages: /webhooks/... and /global-webhooks/...
  const [, kind, id, log] = path.match(/^\/(webhooks|global-webhooks)(?:\/([^/]+)(\/deliveries)?)?$/) || [];
  const scope = kind === "global-webhooks" ? globalWebhooks : entityWebhooks;
  if (path === "/signin") signIn(main);
  else if (/^\/event-types(\/|$)/.test(path)) await eventTypesRoute(main, path);
  else if (id === "new" && !log) await edit(main, null, scope);
  else if (log) await deliveries(main, id, scope);
  else if (id) await edit(main, id, scope);
  else await list(main, scope);
  // After navigation, focus the new page's heading so screen readers announce it.
  main.querySelector("h1")?.focus();
}

applyTheme();
adoptFragmentToken();
window.addEventListener("hashchange", route);
route();
