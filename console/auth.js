// The "Receiver authentication" part of the webhook form. Secrets are write-only: the API never
// returns them, so editing shows an empty secret field that keeps the stored secret unless
// something is typed into it.
import { field, h } from "./dom.js";

const KINDS = {
  "": { label: "None", fields: [] },
  basic: { label: "Basic (username and password)", fields: [["username", "Username"]], secret: ["password", "Password"] },
  bearer: { label: "Bearer token", fields: [], secret: ["token", "Token"] },
  oauth2: {
    label: "OAuth 2.0 client credentials",
    fields: [["tokenUrl", "Token URL", "https"], ["clientId", "Client id"], ["scope", "Scope (optional)"], ["audience", "Audience (optional)"]],
    secret: ["clientSecret", "Client secret"],
  },
};

// `stored` is the webhook's `auth` (or null). Returns the fieldset and `value()`, the `auth`
// to send: null for none, the secret left out when it is to be kept.
export function authFieldset(stored) {
  const type = h("select", { id: "auth.type" },
    Object.entries(KINDS).map(([value, kind]) => h("option", { value, selected: (stored?.type || "") === value }, kind.label)));
  const inputs = {};
  const parts = {};
  for (const [kind, { fields, secret }] of Object.entries(KINDS)) {
    const controls = fields.map(([name, label, inputType]) => {
      inputs[`${kind}.${name}`] = h("input", { id: `auth.${name}`, type: inputType === "https" ? "url" : "text", value: stored?.type === kind ? stored[name] || "" : "" });
      return field(`auth.${name}`, label, inputs[`${kind}.${name}`]);
    });
    if (secret) {
      const [name, label] = secret;
      const kept = stored?.type === kind;
      inputs[`${kind}.${name}`] = h("input", { id: `auth.${name}`, type: "password", autocomplete: "new-password", placeholder: kept ? "•••••••• stored" : "" });
      controls.push(field(`auth.${name}`, label, inputs[`${kind}.${name}`],
        kept ? "A secret is stored and is never shown. Leave this empty to keep it, or type a new one to replace it." : "Write-only: it is never shown again."));
    }
    parts[kind] = h("div", { class: "auth-fields", hidden: true }, controls);
  }
  const sync = () => {
    for (const [kind, part] of Object.entries(parts)) part.hidden = kind !== type.value;
  };
  type.addEventListener("change", sync);
  sync();

  const value = () => {
    const kind = KINDS[type.value];
    if (!type.value) return null;
    const auth = { type: type.value };
    for (const [name] of kind.fields) {
      const text = inputs[`${type.value}.${name}`].value.trim();
      if (text) auth[name] = text;
    }
    const secret = kind.secret && inputs[`${type.value}.${kind.secret[0]}`].value;
    if (secret) auth[kind.secret[0]] = secret;
    return auth;
  };

  const element = h("fieldset", { "data-field": "auth" },
    h("legend", {}, "Receiver authentication"),
    h("p", { class: "hint" }, "How each delivery proves itself to your endpoint, sent as the Authorization header."),
    field("auth.type", "Authentication", type),
    Object.values(parts),
    h("p", { class: "field-error", id: "auth-error" }));
  return { element, value };
}
