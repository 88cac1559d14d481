// The console in a real browser against the local runner: every flow a person uses, by
// mouse and by keyboard, with a screenshot of each page at 1280 and 375 px.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  activeId, base, call, consoleLink, context, demoEntity, headingIs, narrowToken, openTestDialog, page, publish, received,
  receiver, sendTest, sendTestFrom, setUp, shoot, token,
} from "./harness.mjs";

setUp();

test("the printed console link signs in and shows the list", async () => {
  await page.goto(consoleLink);
  await headingIs(page, "Webhooks");
  assert.ok(!page.url().includes("token="), "the token leaves the address bar");
  await page.getByText("No webhooks yet").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.tagName), "H1", "focus moves to the page heading");
  await shoot(page, "list-empty");
});

test("a link with another token replaces the one held only once the user agrees", async () => {
  const tab = await context.newPage();
  await tab.goto(consoleLink);
  await headingIs(tab, "Webhooks");
  const held = () => tab.evaluate(() => sessionStorage.getItem("webhooks.token"));
  const before = await held();
  const offered = narrowToken(demoEntity());
  // A query makes it a new page load, as a link from elsewhere is.
  const link = `${base}/?from=elsewhere#token=${offered}&entity=${demoEntity()}`;
  tab.once("dialog", (dialog) => dialog.dismiss());
  await tab.goto(link);
  await headingIs(tab, "Webhooks");
  assert.equal(await held(), before, "declined: the token held stays");
  assert.ok(!tab.url().includes("token="), "the offered token leaves the address bar");
  tab.once("dialog", (dialog) => dialog.accept());
  await tab.goto(link);
  await headingIs(tab, "Webhooks");
  assert.equal(await held(), offered, "agreed: switched");
  await tab.close();
});

test("sign-in page asks for a token and an entity", async () => {
  const other = await context.newPage();
  await other.goto(`${base}/#/signin`);
  await headingIs(other, "Sign in");
  await other.getByLabel("Managing entity id").fill("not-a-uuid");
  await other.getByRole("button", { name: "Sign in" }).click();
  await other.getByText("Enter the managing entity's id, a UUID.").waitFor();
  await shoot(other, "signin");
  await other.close();
});

test("invalid fields are explained beside them", async () => {
  await page.getByRole("link", { name: "Create webhook" }).click();
  await headingIs(page, "Create webhook");
  await page.getByLabel("Name", { exact: true }).fill("Broken");
  await page.getByLabel("Endpoint URL").fill("ftp://files.example.com/in");
  await page.getByRole("button", { name: "Create webhook" }).click();
  const error = page.locator("#eventUrl-error");
  await error.waitFor();
  assert.match(await error.textContent(), /https/);
  assert.equal(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid"), "true");
  await shoot(page, "form-errors");
});

test("create a webhook, see its secret once, find it listed", async () => {
  await page.getByLabel("Name", { exact: true }).fill("PMS booking sync");
  await page.getByLabel("Account name").fill("The Siam Residences, Bangkok");
  await page.getByLabel("Endpoint URL").fill(`http://127.0.0.1:${receiver.address().port}/hooks`);
  await page.getByLabel("All events, including ones added later").uncheck();
  await page.getByLabel(/booking\.created/).check();
  await page.getByLabel(/payment\.completed/).check();
  await page.getByRole("button", { name: "Add header" }).click();
  await page.getByLabel("Header name").fill("X-Api-Key");
  await page.getByLabel("Header value").fill("abc123");
  await shoot(page, "form-create");
  await page.getByRole("button", { name: "Create webhook" }).click();
  await headingIs(page, "Webhook created");
  assert.match(await page.getByLabel("Signing secret").inputValue(), /^whsec_/);
  await shoot(page, "created-secret");
  await page.getByRole("link", { name: "Done" }).click();
  const row = page.getByRole("row", { name: /PMS booking sync/ });
  await row.waitFor();
  assert.match(await row.textContent(), /booking\.created, payment\.completed/);
  assert.match(await row.textContent(), /Enabled/);
  await shoot(page, "list");
});

test("edit a webhook", async () => {
  await page.getByRole("link", { name: "Edit PMS booking sync" }).click();
  await headingIs(page, "Edit PMS booking sync");
  assert.equal(await page.getByLabel("Header value").inputValue(), "abc123");
  await page.getByLabel("Name", { exact: true }).fill("PMS sync");
  await page.getByLabel(/Ids only/).check();
  await shoot(page, "form-edit");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.getByRole("row", { name: /PMS sync/ }).waitFor();
});

test("a change from another tab is a conflict the user can reload", async () => {
  await page.getByRole("link", { name: "Edit PMS sync" }).click();
  await headingIs(page, "Edit PMS sync");
  const second = await context.newPage();
  await second.goto(consoleLink);
  await second.getByRole("link", { name: "Edit PMS sync" }).click();
  await second.getByLabel("Name", { exact: true }).fill("Changed elsewhere");
  await second.getByRole("button", { name: "Save changes" }).click();
  await second.getByRole("row", { name: /Changed elsewhere/ }).waitFor();
  await second.close();

  await page.getByLabel("Name", { exact: true }).fill("My stale edit");
  await page.getByRole("button", { name: "Save changes" }).click();
  const alert = page.getByRole("alert");
  await alert.getByText(/Someone else changed this webhook/).waitFor();
  await shoot(page, "form-conflict");
  await page.getByRole("button", { name: "Reload the latest version" }).click();
  await headingIs(page, "Edit Changed elsewhere");
  assert.equal(await page.getByLabel("Name", { exact: true }).inputValue(), "Changed elsewhere");
  await page.getByRole("link", { name: "Cancel" }).click();
});

test("pause and resume", async () => {
  await page.getByRole("button", { name: "Pause Changed elsewhere" }).click();
  await page.getByRole("row", { name: /Paused/ }).waitFor();
  await page.getByRole("button", { name: "Resume Changed elsewhere" }).click();
  await page.getByRole("button", { name: "Pause Changed elsewhere" }).waitFor();
});

test("send a test and see it delivered", async () => {
  const before = received.length;
  const dialog = await openTestDialog("Changed elsewhere");
  assert.equal(await activeId(), "eventType", "focus starts on the event type");
  assert.match(await sendTestFrom(dialog), /delivered: 200 in \d+ ms/);
  assert.equal(received.length, before + 1);
  assert.equal(JSON.parse(received.at(-1).body).type, "webhook.test");
  assert.equal(await dialog.locator("#test-filter").count(), 0, "no filter, no verdict on it");
  await shoot(page, "test-dialog");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
});

// Opens the webhook's delivery log, waits for a succeeded delivery and opens its 200 attempt.
async function openSucceededDelivery(name) {
  await page.getByRole("link", { name: `Deliveries of ${name}` }).click();
  await headingIs(page, `Deliveries of ${name}`);
  let summary = page.locator("summary", { hasText: "succeeded" });
  for (let i = 0; i < 50 && !(await summary.count()); i++) {
    await page.waitForTimeout(100);
    await page.reload();
    summary = page.locator("summary", { hasText: "succeeded" });
  }
  await summary.first().click();
  const attempt = page.getByRole("row", { name: /200/ });
  await attempt.waitFor();
  assert.match(await attempt.textContent(), /thanks/);
}

test("the delivery log shows each attempt", async () => {
  const entity = await page.evaluate(() => sessionStorage.getItem("webhooks.entity"));
  await publish(entity, "b-1");
  await openSucceededDelivery("Changed elsewhere");
  await shoot(page, "deliveries");
  await page.getByRole("link", { name: "Back to webhooks" }).click();
});

// ---- Replaying deliveries: resend one, recover a window, filter the log by status -------------

// Waits until the receiver has got, at `url` and since request number `from`, an event with each
// of `ids` as its webhook-id.
async function receivedEvents(from, url, ids) {
  const got = () => received.slice(from).filter((r) => r.url === url).map((r) => r.headers["webhook-id"]);
  for (let i = 0; i < 100 && !ids.every((id) => got().includes(id)); i++) await page.waitForTimeout(100);
  assert.deepEqual(ids.filter((id) => !got().includes(id)), [], `the receiver got every event again at ${url}`);
}

const resendButtons = () => page.getByRole("button", { name: /^Resend \S+ delivery …/ });
const summaries = () => page.locator(".deliveries summary").allTextContents();
let hookPath;

test("resend a delivery by keyboard: the same event again, as a new delivery on top", async () => {
  await headingIs(page, "Webhooks");
  await page.getByRole("link", { name: "Deliveries of Changed elsewhere" }).click();
  await headingIs(page, "Deliveries of Changed elsewhere");
  const entity = await page.evaluate(() => sessionStorage.getItem("webhooks.entity"));
  hookPath = `/managing-entity/${entity}/webhook/${page.url().split("/").at(-2)}`;
  const [original] = (await call("GET", `${hookPath}/deliveries`)).json.items;
  assert.equal(original.status, "succeeded");
  const label = `Resend booking.created delivery …${original.deliveryId.slice(-8)}`;
  await page.getByRole("button", { name: label }).waitFor();
  assert.equal(await resendButtons().count(), 1);

  // From the filter: Recover since…, the delivery's summary, then its Resend.
  await page.getByLabel("Status", { exact: true }).focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), label);
  const before = received.length;
  const request = page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/resend"));
  await page.keyboard.press("Enter");
  assert.equal(new URL((await request).url()).pathname, `/api${hookPath}/deliveries/${original.deliveryId}/resend`);
  await page.locator("#toast").getByText("Resent as a new delivery").waitFor();
  await resendButtons().nth(1).waitFor();
  assert.notEqual(await resendButtons().first().getAttribute("aria-label"), label, "the new delivery is on top");
  assert.equal(await resendButtons().nth(1).getAttribute("aria-label"), label, "the original stays below it");
  assert.equal(await page.evaluate(() => document.activeElement.tagName), "SUMMARY", "focus goes to the new delivery");

  await receivedEvents(before, "/hooks", [original.eventId]);
  const [resent] = (await call("GET", `${hookPath}/deliveries?limit=1`)).json.items;
  assert.equal(resent.eventId, original.eventId, "a delivery of the same event");
  assert.notEqual(resent.deliveryId, original.deliveryId);
  await shoot(page, "deliveries-resent");
});

test("recover by mouse: an error beside its field, then what was missed while paused", async () => {
  // Paused through the API, as a script would: the two events published meanwhile are skipped.
  const entity = await page.evaluate(() => sessionStorage.getItem("webhooks.entity"));
  const paused = await call("PATCH", hookPath, { enabled: false, version: (await call("GET", hookPath)).json.version });
  assert.equal(paused.status, 200);
  const missed = [await publish(entity, "b-missed-1"), await publish(entity, "b-missed-2")];
  const resumed = await call("PATCH", hookPath, { enabled: true, version: paused.json.version });
  assert.equal(resumed.json.enabled, true);
  await page.reload();
  await headingIs(page, "Deliveries of Changed elsewhere");
  await resendButtons().nth(3).waitFor();
  assert.equal((await summaries()).filter((s) => s.includes("skipped")).length, 2);

  await page.getByRole("button", { name: "Recover since…" }).click();
  const dialog = page.getByRole("dialog", { name: "Recover deliveries of Changed elsewhere" });
  await dialog.waitFor();
  assert.equal(await activeId(), "since", "focus starts on Since");
  const hourAgo = await dialog.getByLabel("Since").inputValue();
  const shown = await page.evaluate((value) => new Date(value).getTime(), hourAgo);
  assert.ok(Math.abs(Date.now() - 3_600_000 - shown) < 120_000, `an hour ago by default, not ${hourAgo}`);
  assert.equal(await dialog.getByLabel("Until").inputValue(), "");
  assert.ok(await dialog.getByLabel("Failed", { exact: true }).isChecked());
  assert.ok(!(await dialog.getByLabel("Skipped (missed while paused)").isChecked()));
  await dialog.getByLabel("Skipped (missed while paused)").check();
  await shoot(page, "recover-dialog");

  // Older than deliveries are kept: the API's 422 lands beside Since.
  const tooOld = await page.evaluate(() => {
    const at = new Date(Date.now() - 40 * 86_400_000);
    return new Date(at.getTime() - at.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  });
  await dialog.getByLabel("Since").fill(tooOld);
  await dialog.getByRole("button", { name: "Resend deliveries" }).click();
  await dialog.locator("#since-error").getByText(/30 days/).waitFor();
  assert.equal(await dialog.getByLabel("Since").getAttribute("aria-invalid"), "true");
  assert.equal(await activeId(), "since", "focus goes to the field to fix");
  await shoot(page, "recover-errors");

  await dialog.getByLabel("Since").fill(hourAgo);
  const before = received.length;
  const request = page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/recover"));
  await dialog.getByRole("button", { name: "Resend deliveries" }).click();
  const sent = await request;
  assert.equal(new URL(sent.url()).pathname, `/api${hookPath}/recover`);
  assert.deepEqual(JSON.parse(sent.postData()), {
    since: await page.evaluate((value) => new Date(value).toISOString(), hourAgo),
    statuses: ["failed", "skipped"],
  });
  await page.locator("#toast").getByText("2 deliveries resent").waitFor();
  await dialog.waitFor({ state: "hidden" });
  await resendButtons().nth(5).waitFor();
  await receivedEvents(before, "/hooks", missed);
  await shoot(page, "deliveries-recovered");
});

test("filter the log by status, Load more keeping the filter", async () => {
  const filter = page.getByLabel("Status", { exact: true });
  const only = (status) => page.waitForFunction((s) => {
    const shown = [...document.querySelectorAll(".deliveries summary")];
    return shown.length > 0 && shown.every((summary) => summary.querySelector(".badge").textContent === s);
  }, status);
  let request = page.waitForRequest((r) => new URL(r.url()).searchParams.get("status") === "succeeded");
  await filter.selectOption({ label: "Succeeded" });
  await request;
  await only("succeeded");
  assert.ok((await summaries()).length >= 2, "the first delivery and its resend at least");
  await shoot(page, "deliveries-succeeded");

  // A longer log continues from its cursor with the same filter (the first page is given a
  // cursor here: the log is one page long).
  const isLog = (url) => url.pathname.endsWith("/deliveries");
  await page.route(isLog, async (route) => {
    if (new URL(route.request().url()).searchParams.has("cursor")) return route.fulfill({ json: { items: [], nextCursor: null } });
    const response = await route.fetch();
    return route.fulfill({ response, json: { ...(await response.json()), nextCursor: "page-2" } });
  });
  await filter.selectOption({ label: "Skipped" });
  await only("skipped");
  assert.equal((await summaries()).length, 2, "the two missed while paused");
  request = page.waitForRequest((r) => new URL(r.url()).searchParams.has("cursor"));
  await page.getByRole("button", { name: "Load more" }).click();
  const next = new URL((await request).url()).searchParams;
  assert.deepEqual([next.get("cursor"), next.get("status")], ["page-2", "skipped"]);
  await page.getByRole("button", { name: "Load more" }).waitFor({ state: "detached" });
  await page.unroute(isLog);

  await filter.selectOption({ label: "Failed" });
  await page.getByText("No failed deliveries.").waitFor();
  assert.equal((await summaries()).length, 0);
  await shoot(page, "deliveries-failed-none");
  await filter.selectOption({ label: "All" });
  await resendButtons().nth(5).waitFor();
  await page.getByRole("link", { name: "Back to webhooks" }).click();
});

test("remove with a confirmation, by keyboard", async () => {
  await headingIs(page, "Webhooks");
  await page.getByRole("button", { name: "Remove Changed elsewhere" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await shoot(page, "remove-confirm");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await page.getByRole("row", { name: /Changed elsewhere/ }).count(), 1, "Escape keeps the webhook");

  await page.getByRole("button", { name: "Remove Changed elsewhere" }).focus();
  await page.keyboard.press("Enter");
  await dialog.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Cancel", "the safe choice has focus");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.getByText("No webhooks yet").waitFor();
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

// A Standard Webhooks signature of what the receiver got: base64 HMAC-SHA256 of
// "id.timestamp.body" under the secret's key.
function signature(secret, request) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = `${request.headers["webhook-id"]}.${request.headers["webhook-timestamp"]}.${request.body}`;
  return `v1,${createHmac("sha256", key).update(signed).digest("base64")}`;
}

// Sends a test to `name` and answers the request the receiver got at `url`.
async function testSent(name, url) {
  const before = received.length;
  assert.match(await sendTest(name), /delivered: 200/);
  const got = received.slice(before).filter((r) => r.url === url);
  assert.equal(got.length, 1, `one test reached ${url}`);
  return got[0];
}

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

// ---- Global webhooks: one subscription for many entities, at /api/webhook --------------------

const OTHER_ENTITY = "0f6e1c7a-3b2d-4e8f-9a1b-2c3d4e5f6a7b";
let globalId;

test("global webhooks have their own page in the navigation", async () => {
  await headingIs(page, "Webhooks");
  const link = page.getByRole("navigation").getByRole("link", { name: "Global webhooks", exact: true });
  await link.click();
  await headingIs(page, "Global webhooks");
  assert.equal(await link.getAttribute("aria-current"), "page");
  await page.getByText("No global webhooks yet").waitFor();
  await shoot(page, "global-list-empty");
});

test("entity ids are checked beside their field, before and by the API", async () => {
  await page.getByRole("link", { name: "Create global webhook" }).click();
  await headingIs(page, "Create global webhook");
  assert.equal(await page.getByLabel("Account name").count(), 0, "a global webhook has no account");
  await page.getByLabel("Name", { exact: true }).fill("Broken global");
  await page.getByLabel("Endpoint URL").fill(`http://127.0.0.1:${receiver.address().port}/global`);
  await page.getByLabel("Entity ids").fill(`${demoEntity()}, not-an-id`);
  await page.getByRole("button", { name: "Create global webhook" }).click();
  await page.locator("#entities-error").getByText(/not-an-id/).waitFor();
  assert.equal(await page.getByLabel("Entity ids").getAttribute("aria-invalid"), "true");
  assert.equal(await activeId(), "entities", "focus goes to the field to fix");
  await shoot(page, "global-form-errors");

  // The API's 422 for `entities` lands in the same place (answered here, as the dev token may
  // use any entity and so gets none from the runner).
  const isCreate = (url) => url.pathname === "/api/webhook";
  await page.route(isCreate, (route) => route.request().method() !== "POST" ? route.continue() : route.fulfill({
    status: 422,
    contentType: "application/problem+json",
    body: JSON.stringify({ status: 422, title: "Invalid", detail: "Invalid fields",
      properties: { errors: [{ field: "entities", message: "must list each entity once" }] } }),
  }));
  await page.getByLabel("Entity ids").fill(demoEntity());
  await page.getByRole("button", { name: "Create global webhook" }).click();
  await page.locator("#entities-error").getByText("must list each entity once").waitFor();
  assert.equal(await page.getByLabel("Entity ids").getAttribute("aria-invalid"), "true");
  await page.unroute(isCreate);
  await page.getByRole("link", { name: "Cancel" }).click();
  await page.getByText("No global webhooks yet").waitFor();
});

test("create a global webhook for two entities by keyboard", async () => {
  await page.getByRole("link", { name: "Create global webhook" }).focus();
  await page.keyboard.press("Enter");
  await headingIs(page, "Create global webhook");
  await page.keyboard.press("Tab");
  assert.equal(await activeId(), "name");
  await page.keyboard.type("Chain sync");
  await page.keyboard.press("Tab");
  assert.equal(await activeId(), "all-entities");
  assert.equal(await page.getByLabel(/^All entities/).isChecked(), false);
  await page.keyboard.press("Tab");
  assert.equal(await activeId(), "entities");
  await page.keyboard.type(demoEntity().toUpperCase());
  await page.keyboard.press("Enter");
  await page.keyboard.type(OTHER_ENTITY);
  await page.keyboard.press("Tab");
  assert.equal(await activeId(), "eventUrl");
  await page.keyboard.type(`http://127.0.0.1:${receiver.address().port}/global`);
  await shoot(page, "global-form-create");
  const request = page.waitForRequest((r) => new URL(r.url()).pathname === "/api/webhook" && r.method() === "POST");
  await page.keyboard.press("Enter");
  assert.deepEqual(JSON.parse((await request).postData()).entities, [demoEntity(), OTHER_ENTITY], "one id a line, lower-cased");
  await headingIs(page, "Global webhook created");
  assert.match(await page.getByLabel("Signing secret").inputValue(), /^whsec_/);
  await page.getByRole("link", { name: "Done" }).focus();
  await page.keyboard.press("Enter");

  const row = page.getByRole("row", { name: /Chain sync/ });
  await row.waitFor();
  assert.match(await row.textContent(), /2 entities/);
  await row.getByText("2 entities").focus();
  await page.keyboard.press("Enter");
  await row.getByText(OTHER_ENTITY).waitFor();
  await row.getByText(demoEntity()).waitFor();
  await shoot(page, "global-list");
  globalId = (await page.getByRole("link", { name: "Edit Chain sync" }).getAttribute("href")).split("/").pop();
});

test("a token that does not cover every entity neither lists nor opens the webhook", async () => {
  const narrow = await context.newPage();
  await narrow.goto(`${base}/#token=${narrowToken(demoEntity())}&entity=${demoEntity()}`);
  await headingIs(narrow, "Webhooks");
  await narrow.getByRole("link", { name: "Global webhooks", exact: true }).click();
  await headingIs(narrow, "Global webhooks");
  await narrow.getByText("No global webhooks yet").waitFor();
  await narrow.evaluate((id) => { location.hash = `#/global-webhooks/${id}`; }, globalId);
  await headingIs(narrow, "Something went wrong");
  await narrow.getByRole("alert").waitFor();
  await shoot(narrow, "global-not-found");

  await narrow.evaluate(() => { location.hash = "#/global-webhooks/new"; });
  await headingIs(narrow, "Create global webhook");
  await narrow.getByLabel("Name", { exact: true }).fill("Beyond my token");
  await narrow.getByLabel("Endpoint URL").fill(`http://127.0.0.1:${receiver.address().port}/global`);
  await narrow.getByLabel("Entity ids").fill(OTHER_ENTITY);
  await narrow.getByRole("button", { name: "Create global webhook" }).click();
  await narrow.getByRole("alert").getByText(/your token does not cover every entity/).waitFor();
  await narrow.close();
});

test("edit a global webhook to cover every entity, by mouse", async () => {
  await page.getByRole("link", { name: "Edit Chain sync" }).click();
  await headingIs(page, "Edit Chain sync");
  const shown = (await page.getByLabel("Entity ids").inputValue()).split("\n");
  assert.deepEqual(shown.sort(), [demoEntity(), OTHER_ENTITY].sort(), "the stored ids, one a line");
  await page.getByText("All entities, including ones added later").click();
  assert.ok(await page.getByLabel(/^All entities/).isChecked());
  assert.ok(await page.getByLabel("Entity ids").isDisabled(), "the ids do not apply to every entity");
  await shoot(page, "global-form-edit");
  await page.getByRole("button", { name: "Save changes" }).click();
  const row = page.getByRole("row", { name: /Chain sync/ });
  await row.getByText("All entities", { exact: true }).waitFor();
  assert.doesNotMatch(await row.textContent(), /2 entities/);
});

test("send a test from a global webhook", async () => {
  const before = received.length;
  const dialog = await openTestDialog("Chain sync");
  assert.match(await sendTestFrom(dialog), /Chain sync delivered: 200 in \d+ ms/);
  assert.equal(received.length, before + 1);
  assert.equal(received.at(-1).url, "/global");
  assert.equal(JSON.parse(received.at(-1).body).type, "webhook.test");
  await shoot(page, "global-test-dialog");
  await dialog.getByRole("button", { name: "Close", exact: true }).click();
  await dialog.waitFor({ state: "detached" });
});

test("a global webhook's delivery log", async () => {
  // Only the global webhook covers this entity now that it covers every one.
  await publish(OTHER_ENTITY, "b-global");
  await openSucceededDelivery("Chain sync");
  assert.ok(received.some((r) => r.url === "/global" && r.body.includes("b-global")), "the receiver got the event");
  await shoot(page, "global-deliveries");
  await page.getByRole("link", { name: "Back to global webhooks" }).click();
});

test("resend a global webhook's delivery by mouse", async () => {
  await headingIs(page, "Global webhooks");
  const [original] = (await call("GET", `/webhook/${globalId}/deliveries`)).json.items;
  await page.getByRole("link", { name: "Deliveries of Chain sync" }).click();
  await headingIs(page, "Deliveries of Chain sync");
  const before = received.length;
  const request = page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/resend"));
  await page.getByRole("button", { name: `Resend booking.created delivery …${original.deliveryId.slice(-8)}` }).click();
  assert.equal(new URL((await request).url()).pathname, `/api/webhook/${globalId}/deliveries/${original.deliveryId}/resend`);
  await resendButtons().nth(1).waitFor();
  await receivedEvents(before, "/global", [original.eventId]);
  await page.getByRole("link", { name: "Back to global webhooks" }).click();
});

test("rotate a global webhook's secret by mouse with no overlap: one signature", async () => {
  await headingIs(page, "Global webhooks");
  await page.getByRole("button", { name: "Rotate secret of Chain sync" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("Overlap").selectOption({ label: "None" });
  await shoot(page, "global-rotate-dialog");
  const request = page.waitForRequest((r) => new URL(r.url()).pathname === `/api/webhook/${globalId}/secret/rotate`);
  await dialog.getByRole("button", { name: "Rotate secret", exact: true }).click();
  assert.deepEqual(JSON.parse((await request).postData()), { overlap: "0s" });
  await headingIs(page, "New secret for Chain sync");
  const secret = await page.getByLabel("Signing secret").inputValue();
  assert.match(secret, /^whsec_/);
  await page.locator("#secret-note").getByText("The previous secret stopped signing at once.").waitFor();
  await page.getByRole("button", { name: "Copy secret" }).click();
  await page.locator("#secret-copied").getByText("Copied", { exact: true }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await shoot(page, "global-rotated-secret");
  await page.getByRole("link", { name: "Done" }).click();
  await headingIs(page, "Global webhooks");

  const got = await testSent("Chain sync", "/global");
  assert.equal(got.headers["webhook-signature"], signature(secret, got), "only the new secret signs");
});

test("remove a global webhook", async () => {
  await headingIs(page, "Global webhooks");
  await page.getByRole("button", { name: "Remove Chain sync" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Remove" }).click();
  await page.getByText("No global webhooks yet").waitFor();
  const gone = await fetch(`${base}/api/webhook/${globalId}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(gone.status, 404);
  await shoot(page, "global-list-removed");
});
