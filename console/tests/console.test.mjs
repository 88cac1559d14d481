// The console in a real browser against the local runner: every flow a person uses, by
// mouse and by keyboard, with a screenshot of each page at 1280 and 375 px.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  activeId, base, call, consoleLink, context, demoEntity, headingIs, narrowToken, openSucceededDelivery,
  openTestDialog, page, publish, received, receivedEvents, receiver, resendButtons, sendTestFrom, setUp, shoot, token,
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

test("the delivery log shows each attempt", async () => {
  const entity = await page.evaluate(() => sessionStorage.getItem("webhooks.entity"));
  await publish(entity, "b-1");
  await openSucceededDelivery("Changed elsewhere");
  await shoot(page, "deliveries");
  await page.getByRole("link", { name: "Back to webhooks" }).click();
});

// ---- Replaying deliveries: resend one, recover a window, filter the log by status -------------

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
