// Receiver authentication and secret rotation in a real browser against the local runner, on a
// webhook made by keyboard alone: set, kept, replaced, rotated with and without overlap, by
// mouse and by keyboard, with a screenshot of each page at 1280 and 375 px.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  activeId, base, context, headingIs, page, received, receiver, sendTest, setUp, shoot, signIn, signature, testSent,
  token, verifiesEd25519,
} from "./harness.mjs";

setUp();

test("the console link signs in", async () => {
  await signIn();
});

test("create a webhook by keyboard alone", async () => {
  await page.getByRole("link", { name: "Create webhook" }).focus();
  await page.keyboard.press("Enter");
  await headingIs(page, "Create webhook");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "name");
  await page.keyboard.type("Keyboard hook");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "eventUrl");
  await page.keyboard.type(`http://127.0.0.1:${receiver.address().port}/kb`);
  await page.keyboard.press("Enter");
  await headingIs(page, "Webhook created");
});

// Sends a test to `name` and answers the Authorization header the receiver got.
async function testAuthorization(name) {
  const before = received.length;
  assert.match(await sendTest(name), /delivered: 200/);
  assert.equal(received.length, before + 1);
  return received.at(-1).headers.authorization;
}

test("receiver authentication: set, kept when left empty, replaced by keyboard", async () => {
  const basic = (password) => `Basic ${Buffer.from(`wink:${password}`).toString("base64")}`;
  await page.getByRole("link", { name: "Done" }).click();
  await page.getByRole("link", { name: "Edit Keyboard hook" }).click();
  await headingIs(page, "Edit Keyboard hook");
  await page.getByLabel("Authentication").selectOption("basic");
  await page.getByLabel("Username").fill("wink");
  await page.getByLabel("Password").fill("s3cret-one");
  await shoot(page, "form-auth");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("row", { name: /Keyboard hook/ }).waitFor();
  assert.equal(await testAuthorization("Keyboard hook"), basic("s3cret-one"));

  await page.getByRole("link", { name: "Edit Keyboard hook" }).click();
  await headingIs(page, "Edit Keyboard hook");
  assert.equal(await page.getByLabel("Username").inputValue(), "wink");
  assert.equal(await page.getByLabel("Password").inputValue(), "", "a stored secret is never shown");
  await page.getByText(/A secret is stored and is never shown/).waitFor();
  assert.ok(!(await page.content()).includes("s3cret-one"));
  await shoot(page, "form-auth-stored");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("row", { name: /Keyboard hook/ }).waitFor();
  assert.equal(await testAuthorization("Keyboard hook"), basic("s3cret-one"), "left empty, the secret is kept");

  await page.getByRole("link", { name: "Edit Keyboard hook" }).click();
  await headingIs(page, "Edit Keyboard hook");
  await page.getByLabel("Password").focus();
  await page.keyboard.type("s3cret-two");
  await page.keyboard.press("Enter");
  await page.getByRole("row", { name: /Keyboard hook/ }).waitFor();
  assert.equal(await testAuthorization("Keyboard hook"), basic("s3cret-two"), "typed, the secret is replaced");
});

test("a receiver authentication error is shown beside its field", async () => {
  await page.getByRole("link", { name: "Edit Keyboard hook" }).click();
  await headingIs(page, "Edit Keyboard hook");
  await page.getByLabel("Authentication").selectOption("bearer");
  await page.getByRole("button", { name: "Save changes" }).click();
  const error = page.locator("#auth\\.token-error");
  await error.getByText("is required").waitFor();
  assert.equal(await page.getByLabel("Token", { exact: true }).getAttribute("aria-invalid"), "true");
  await shoot(page, "form-auth-error");
  await page.getByRole("link", { name: "Cancel" }).click();
});

// ---- Secret rotation: a new secret at once, the previous one signing beside it for a while ----

let previousSecret, previousVersion;

test("rotation: Escape changes nothing, an invalid overlap is shown beside it, a stale version is explained", async () => {
  await headingIs(page, "Webhooks");
  const rotations = [];
  const isRotate = (url) => url.pathname.endsWith("/secret/rotate");
  const watch = (r) => { if (isRotate(new URL(r.url()))) rotations.push(r); };
  page.on("request", watch);
  await page.getByRole("button", { name: "Rotate secret of Keyboard hook" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByText(/every delivery carries two signatures/).waitFor();
  assert.equal(await dialog.getByLabel("Overlap").inputValue(), "24h", "a day's overlap by default");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal(rotations.length, 0, "Escape rotates nothing");
  page.off("request", watch);

  // The API's 422 for `overlap` lands beside the select (answered here: the select offers only
  // valid overlaps).
  await page.route(isRotate, (route) => route.fulfill({
    status: 422,
    contentType: "application/problem+json",
    body: JSON.stringify({ status: 422, title: "Invalid", detail: "Invalid fields",
      properties: { errors: [{ field: "overlap", message: "must be at most 7d" }] } }),
  }));
  await page.getByRole("button", { name: "Rotate secret of Keyboard hook" }).click();
  await dialog.getByRole("button", { name: "Rotate secret", exact: true }).click();
  await dialog.locator("#overlap-error").getByText("must be at most 7d").waitFor();
  assert.equal(await dialog.getByLabel("Overlap").getAttribute("aria-invalid"), "true");
  assert.equal(await activeId(), "overlap", "focus goes to the field to fix");
  await page.unroute(isRotate);

  // Rotated meanwhile through the API, as a script would: the version the dialog holds is stale.
  const entity = await page.evaluate(() => sessionStorage.getItem("webhooks.entity"));
  const id = (await page.getByRole("link", { name: "Edit Keyboard hook" }).getAttribute("href")).split("/").pop();
  const elsewhere = await fetch(`${base}/api/managing-entity/${entity}/webhook/${id}/secret/rotate`, {
    method: "POST", headers: { authorization: `Bearer ${token}` } });
  assert.equal(elsewhere.status, 200);
  previousSecret = (await elsewhere.json()).secret;
  previousVersion = elsewhere.headers.get("etag");
  await dialog.getByRole("button", { name: "Rotate secret", exact: true }).click();
  await dialog.getByRole("alert").getByText(/Keyboard hook changed since this list was loaded/).waitFor();
  assert.equal(await dialog.locator("#overlap-error").textContent(), "", "the earlier field error is gone");
  await shoot(page, "rotate-stale");
  await dialog.getByRole("button", { name: "Reload the list" }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.getByRole("row", { name: /Keyboard hook/ }).waitFor();
});

test("rotate a webhook's secret by keyboard with an hour's overlap: two signatures", async () => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await page.getByRole("button", { name: "Rotate secret of Keyboard hook" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  assert.equal(await activeId(), "overlap", "focus starts on the overlap");
  await page.keyboard.press("ArrowUp");
  assert.equal(await dialog.getByLabel("Overlap").inputValue(), "1h", "1 hour is above 24 hours");
  await shoot(page, "rotate-dialog");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Cancel");
  await page.keyboard.press("Tab");
  const request = page.waitForRequest((r) => r.url().endsWith("/secret/rotate"));
  await page.keyboard.press("Enter");
  const sent = await request;
  assert.deepEqual(JSON.parse(sent.postData()), { overlap: "1h" });
  assert.equal((await sent.allHeaders())["if-match"], previousVersion, "the version the reloaded list shows");

  await headingIs(page, "New secret for Keyboard hook");
  const secret = await page.getByLabel("Signing secret").inputValue();
  assert.match(secret, /^whsec_/);
  assert.notEqual(secret, previousSecret);
  const until = page.locator("#secret-note time");
  const expires = Date.parse(await until.getAttribute("datetime"));
  assert.ok(Math.abs(expires - Date.now() - 3_600_000) < 60_000, "the previous secret signs for an hour more");
  assert.equal(await until.textContent(), await page.evaluate((at) => new Date(at).toLocaleString(), expires), "in the user's locale");

  await page.keyboard.press("Tab");
  assert.equal(await activeId(), "secret", "from the heading to the secret");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.locator("#secret-copied").getByText("Copied", { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await shoot(page, "rotated-secret");
  await page.getByRole("link", { name: "Done" }).focus();
  await page.keyboard.press("Enter");
  await headingIs(page, "Webhooks");

  const got = await testSent("Keyboard hook", "/kb");
  assert.deepEqual(got.headers["webhook-signature"].split(" "), [signature(secret, got), signature(previousSecret, got)],
    "the new secret signs, and the previous one beside it");
});

test("an ed25519 webhook made by mouse shows its public key, never a secret, and its deliveries verify with it", async () => {
  await page.getByRole("link", { name: "Create webhook" }).click();
  await headingIs(page, "Create webhook");
  await page.getByLabel("Name", { exact: true }).fill("Signed hook");
  await page.getByLabel("Endpoint URL").fill(`http://127.0.0.1:${receiver.address().port}/signed`);
  await page.getByLabel("Ed25519 (v1a)").check();
  await shoot(page, "form-signature");
  await page.getByRole("button", { name: "Create webhook" }).click();
  await headingIs(page, "Webhook created");
  const publicKey = await page.getByLabel("Public key").inputValue();
  assert.match(publicKey, /^whpk_[A-Za-z0-9+/]{43}=$/);
  assert.ok(!(await page.content()).includes("whsk_"), "the private key is never in the page");
  await shoot(page, "created-public-key");
  await page.getByRole("link", { name: "Done" }).click();
  await headingIs(page, "Webhooks");

  const got = await testSent("Signed hook", "/signed");
  assert.match(got.headers["webhook-signature"], /^v1a,/);
  assert.ok(verifiesEd25519(publicKey, got), "the public key verifies the delivery");
  await page.getByRole("link", { name: "Edit Signed hook" }).click();
  await headingIs(page, "Edit Signed hook");
  assert.equal(await page.getByLabel("Public key").inputValue(), publicKey, "shown on every visit");
  await page.getByRole("link", { name: "Cancel" }).click();
  await headingIs(page, "Webhooks");
});
