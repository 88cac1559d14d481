// Global webhooks in a real browser against the local runner: one subscription for many
// entities, at /api/webhook, its page, form, test, log, resend, rotation and removal, by mouse
// and by keyboard, with a screenshot of each page at 1280 and 375 px.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  activeId, base, call, context, demoEntity, headingIs, narrowToken, openSucceededDelivery, openTestDialog, page,
  publish, received, receivedEvents, receiver, resendButtons, sendTestFrom, setUp, shoot, signIn, signature, testSent,
  token,
} from "./harness.mjs";

setUp();

test("the console link signs in", async () => {
  await signIn();
});

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
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
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
