// The console's entry: signs in from a link's fragment, routes on the hash, keeps focus sane.
import { session } from "./api.js";
import { h, replace } from "./dom.js";
import { deliveries, edit, list, signIn } from "./pages.js";

// A link like /#token=...&entity=... signs in once; the token then leaves the address bar.
function adoptFragmentToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("token")) return;
  session.save(params.get("token"), params.get("entity") || session.entity);
  history.replaceState(null, "", `${location.pathname}#/webhooks`);
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
  if (!session.token && path !== "/signin") {
    location.hash = "#/signin";
    return;
  }
  let match;
  if (path === "/signin") signIn(main);
  else if (path === "/webhooks/new") await edit(main, null);
  else if ((match = path.match(/^\/webhooks\/([^/]+)\/deliveries$/))) await deliveries(main, match[1]);
  else if ((match = path.match(/^\/webhooks\/([^/]+)$/))) await edit(main, match[1]);
  else await list(main);
  // After navigation, focus the new page's heading so screen readers announce it.
  main.querySelector("h1")?.focus();
}

adoptFragmentToken();
window.addEventListener("hashchange", route);
route();
