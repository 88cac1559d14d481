// The console's entry: signs in from a link's fragment, routes on the hash, keeps focus sane.
import { session } from "./api.js";
import { CATALOG_SCOPE, EVENT_TYPES_ROUTE, eventTypesRoute } from "./catalog.js";
import { h, replace } from "./dom.js";
import { globalWebhooks } from "./globals.js";
import { deliveries, edit, entityWebhooks, list, signIn } from "./pages.js";

// A link like /#token=...&entity=... signs in once; the token then leaves the address bar. Anyone
// can send such a link, so one that would replace the token already held asks first.
function adoptFragmentToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("token")) return;
  const offered = params.get("token");
  const replacing = session.token && session.token !== offered;
  if (!replacing || confirm("This link signs you in with another token, as someone else perhaps. Switch to it?")) {
    session.save(offered, params.get("entity") || session.entity);
  }
  history.replaceState(null, "", `${location.pathname}#/webhooks`);
}

// The two kinds of webhook and, for the operator, the event catalog; the current one marked for
// assistive technology.
function renderNav(path) {
  const nav = document.getElementById("nav");
  const current = `#/${path.split("/")[1]}`;
  const link = (route, label) => h("a", { href: route, "aria-current": route === current && "page" }, label);
  if (!session.token) replace(nav);
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
  replace(bar,
    h("span", { class: "muted" }, "Account "), h("code", {}, session.entity.slice(0, 8) + "…"),
    h("a", { href: "#/signin" }, "Switch"),
    h("button", { class: "link", onclick: () => { session.clear(); location.hash = "#/signin"; } }, "Sign out"));
}

async function route() {
  const main = document.getElementById("main");
  const path = location.hash.replace(/^#/, "") || "/webhooks";
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

adoptFragmentToken();
window.addEventListener("hashchange", route);
route();
