// The API client: bearer token from sessionStorage, problem+json errors as ApiError.
const TOKEN = "webhooks.token";
const ENTITY = "webhooks.entity";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN) || ""; },
  get entity() { return sessionStorage.getItem(ENTITY) || ""; },
  save(token, entity) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(ENTITY, entity);
  },
  // The scopes the token was granted (its `scope` claim, space-separated), read to decide what
  // to offer; the API decides what is allowed. Not a JWT, or no claim: none.
  get scopes() {
    try {
      const payload = this.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
      const scope = JSON.parse(new TextDecoder().decode(bytes)).scope ?? "";
      return Array.isArray(scope) ? scope : String(scope).split(/\s+/).filter(Boolean);
    } catch {
      return [];
    }
  },
  clear() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(ENTITY);
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
  const response = await fetch(`/api${path}`, {
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
