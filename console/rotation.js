// Signing keys: the page that shows one (an HMAC secret once, after create and after a rotation;
// an ed25519 public key, which every read shows too), and the dialog that rotates a webhook's key.
// The API never returns a secret again, and never an ed25519 private key at all.
import { api, webhookPath } from "./api.js";
import { dialogActions, field, h, page, replace, showOnce, when } from "./dom.js";

// The overlaps offered (the API takes any up to 7d). A day leaves time to update a receiver.
const OVERLAPS = [["0s", "None"], ["1h", "1 hour"], ["24h", "24 hours"], ["7d", "7 days"]];
const DEFAULT_OVERLAP = "24h";

// `note` is anything more the user must know about this secret; `done`, if given, is what Done
// does instead of following its link (to the page the address already shows, so a no-op).
// `what` names the key shown: the signing secret, or an ed25519 webhook's public key.
export function secretShown(main, scope, { title, intro, secret, note, done, what = "secret" }) {
  const input = h("input", { id: "secret", readonly: true, value: secret, class: "mono", onfocus: (e) => e.target.select() });
  const copied = h("p", { id: "secret-copied", role: "status", class: "copied" });
  const copy = async () => {
    // Emptied first so that a second copy is announced again.
    replace(copied);
    try {
      await navigator.clipboard.writeText(secret);
      replace(copied, "Copied");
    } catch {
      // No clipboard here (permission refused, or not a secure origin): copying is left to the user.
      input.focus();
      replace(copied, `Could not copy. The ${what} is selected: copy it with your keyboard.`);
    }
  };
  page(main, title,
    h("div", { class: "card" },
      h("p", {}, intro),
      h("label", { for: "secret" }, what === "secret" ? "Signing secret" : "Public key"),
      h("div", { class: "secret-row" },
        input,
        h("button", { type: "button", class: "secondary", onclick: copy }, `Copy ${what}`)),
      copied,
      note ? h("p", { id: "secret-note" }, note) : null,
      h("div", { class: "actions" },
        h("a", { class: "button", href: scope.route, onclick: done && ((e) => { e.preventDefault(); done(); }) }, "Done"))));
  // The route is unchanged, so app.js moves no focus: the heading announces the new page.
  main.querySelector("h1").focus();
}

// What the page after a create (titled `createdTitle`) or a rotation (no title given) shows of
// the webhook's new key, from the API's answer `made`: its HMAC secret, shown only now, or its
// ed25519 public key.
export function keyShown(name, made, createdTitle) {
  if (made.signature === "ed25519") {
    return {
      title: createdTitle || `New key for ${name}`,
      intro: `${name} signs every delivery with ed25519 (v1a). Your receiver verifies with this public key, which is not a secret: it is also shown on the webhook's page.`,
      secret: made.publicKey,
      what: "public key",
    };
  }
  const intro = createdTitle
    ? `${name} is ready. Verify each delivery with this signing secret; it is shown only now.`
    : `${name} signs every delivery with this secret from now on. It is shown only now: give it to your receiver.`;
  return { title: createdTitle || `New secret for ${name}`, intro, secret: made.secret };
}

function previousNote(expiresAt, key) {
  if (!expiresAt) return `The previous ${key} stopped signing at once.`;
  return h("span", {}, `The previous ${key} also signs every delivery until `,
    h("time", { datetime: expiresAt }, when(expiresAt)), "; after that only this one does.");
}

// Asks for the overlap in a modal dialog, rotates `webhook`'s secret at the version the list
// shows and then shows the new secret. `reload` lists the webhooks again, as they now are: the
// list's address stays in the bar throughout, so no navigation would.
export function rotateSecret(main, scope, webhook, reload) {
  const ed25519 = webhook.signature === "ed25519";
  const key = ed25519 ? "key" : "secret";
  const overlap = h("select", { id: "overlap", name: "overlap", autofocus: true },
    OVERLAPS.map(([value, label]) => h("option", { value, selected: value === DEFAULT_OVERLAP }, label)));
  const alert = h("div", { role: "alert", class: "alert", tabindex: "-1", hidden: true });
  const submit = h("button", { type: "submit" }, "Rotate secret");
  const errorOf = () => dialog.querySelector("#overlap-error");
  // The list again, announced as a page is after navigation (app.js focuses its heading).
  const back = async () => {
    await reload();
    main.querySelector("h1")?.focus();
  };

  const rotate = async (e) => {
    e.preventDefault();
    alert.hidden = true;
    replace(errorOf());
    overlap.removeAttribute("aria-invalid");
    // One request at a time: a second would only meet the first's new version (412).
    submit.disabled = true;
    try {
      const rotated = await api("POST", webhookPath(scope, webhook.id, "/secret/rotate"),
        { body: { overlap: overlap.value }, ifMatch: webhook.version });
      dialog.close();
      secretShown(main, scope, {
        ...keyShown(webhook.name, rotated),
        note: previousNote(rotated.previousSecretExpiresAt, key),
        done: back,
      });
    } catch (err) {
      submit.disabled = false;
      if (err.status === 401) {
        dialog.close();
        location.hash = "#/signin";
        return;
      }
      if (err.status === 422) {
        const { overlap: message, ...others } = err.fields;
        if (message) {
          replace(errorOf(), message);
          overlap.setAttribute("aria-invalid", "true");
          overlap.focus();
        }
        // A field this dialog does not show still gets its answer.
        const rest = Object.entries(others).map(([name, text]) => `${name}: ${text}`).join(" ");
        if (!rest) return;
        replace(alert, rest);
      } else if (err.status === 412) {
        replace(alert,
          h("p", {}, `${webhook.name} changed since this list was loaded (it is now at version ${err.problem.properties?.currentVersion}). The secret was not rotated.`),
          h("button", { type: "button", onclick: () => { dialog.close(); back(); } }, "Reload the list"));
      } else {
        replace(alert, err.message);
      }
      alert.hidden = false;
      if (!err.fields?.overlap) alert.focus();
    }
  };

  const dialog = h("dialog", { "aria-labelledby": "rotate-title", "aria-describedby": "rotate-text" },
    h("form", { novalidate: true, onsubmit: rotate },
      h("h2", { id: "rotate-title" }, `Rotate the ${key} of ${webhook.name}?`),
      h("p", { id: "rotate-text" }, ed25519
        ? "A new key pair signs deliveries at once; its public key is shown to you, and on the webhook's page."
        : "A new secret signs deliveries at once, and is shown to you only once."),
      alert,
      field("overlap", "Overlap", overlap,
        `During the overlap every delivery carries two signatures, one by the new ${key} and one by the previous, so your receiver keeps verifying until it has the new one.`),
      dialogActions(submit)));
  showOnce(dialog);
}

// How a webhook signs: chosen at create (HMAC by default; `value()` is the choice), then shown,
// an ed25519 webhook's public key with it, on every visit; a rotation changes it.
export function signatureFieldset(webhook) {
  if (webhook) {
    const ed25519 = webhook.signature === "ed25519";
    return {
      element: h("fieldset", { "data-field": "signature" },
        h("legend", {}, "Signature"),
        h("p", { class: "hint" }, ed25519
          ? "Ed25519 (v1a): your receiver verifies with this public key. Rotating the key changes it."
          : "HMAC-SHA256 (v1) with the signing secret shown when it was made. Rotate it to get a new one."),
        ed25519
          ? h("input", { id: "public-key", readonly: true, class: "mono", value: webhook.publicKey, "aria-label": "Public key", onfocus: (e) => e.target.select() })
          : null),
    };
  }
  const choice = (value, label, hint, checked) => h("div", {},
    h("div", { class: "checkbox" },
      h("input", { type: "radio", name: "signature", id: `signature-${value}`, value, checked, "aria-describedby": `signature-${value}-hint` }),
      h("label", { for: `signature-${value}` }, label)),
    h("p", { class: "hint", id: `signature-${value}-hint` }, hint));
  const element = h("fieldset", { "data-field": "signature" },
    h("legend", {}, "Signature"),
    choice("hmac", "HMAC-SHA256 (v1)", "A shared secret, shown once when the webhook is made.", true),
    choice("ed25519", "Ed25519 (v1a)", "Your receiver verifies with a public key and holds no secret.", false),
    h("p", { class: "field-error", id: "signature-error" }));
  return { value: () => element.querySelector("input:checked").value, element };
}
