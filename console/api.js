// The API client: bearer token from sessionStorage, problem+json errors as ApiError. Opened at
// /portal, the console is a portal (docs/contract.md 16): a session's token, kept in memory, on
// the portal routes.
const PORTAL = location.pathname === "/portal";
const TOKEN = PORTAL ? "webhooks.portal.token" : "webhooks.token";
const ENTITY = PORTAL ? "webhooks.portal.entity" : "webhooks.entity";
const API = PORTAL ? "/portal/api" : "/api";
// A portal keeps its session in the page's memory only: a framed page may be denied storage of
// its own (browsers partition or refuse it to another site's frames), and the token is to leave
// no trace. Reloading the frame ends it; the platform's page opens another session.
const memory = new Map();
const storage = PORTAL
  ? { getItem: (key) => memory.get(key) ?? null, setItem: (key, value) => memory.set(key, value), removeItem: (key) => memory.delete(key) }
  : sessionStorage;

// A JWT's claims, read to decide what to offer; the API decides what is allowed. Not a JWT: none.
export function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) || {};
  } catch {
    return {};
  }
}

export const session = {
  portal: PORTAL,
  get token() { return storage.getItem(TOKEN) || ""; },
  get entity() { return storage.getItem(ENTITY) || ""; },
  save(token, entity) {
    storage.setItem(TOKEN, token);
    storage.setItem(ENTITY, entity);
  },
  get claims() { return claimsOf(this.token); },
  // A read-only portal session: the console offers no change the API would refuse.
  get readOnly() { return PORTAL && this.claims.readOnly === true; },
  // The scopes the token was granted (its `scope` claim, space-separated).
  get scopes() {
    const scope = this.claims.scope ?? "";
    return Array.isArray(scope) ? scope : String(scope).split(/\s+/).filter(Boolean);
  },
  clear() {
    storage.removeItem(TOKEN);
    storage.removeItem(ENTITY);
  },
};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.message || `Request failed with status ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  /** Field errors of a 422, as { field: message }. */
  get fields() {
    const errors = this.problem.properties?.errors || [];
    return Object.fromEntries(errors.map((e) => [e.field, e.message]));
  }
}

export async function api(method, path, { body, ifMatch } = {}) {
  const headers = { Authorization: `Bearer ${session.token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch !== undefined) headers["If-Match"] = `"${ifMatch}"`;
  const response = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function entityPath(suffix = "") {
  return `/managing-entity/${encodeURIComponent(session.entity)}${suffix}`;
}

// The API path of webhook `id` of `scope` (an account's webhooks or the global ones).
export function webhookPath(scope, id, suffix = "") {
  return scope.path(`/${encodeURIComponent(id)}${suffix}`);
}
