// A webhook the platform disabled for failing, in a real browser: the list marks it, its health
// panel says why, and Enable again (by keyboard, and by mouse for a global webhook) turns it back
// on. This file's runner disables a webhook failing for a second, with attempts a second apart,
// so the second or third attempt of a refused event disables it. The panel's figures are tested
// in health.test.mjs, whose runner never does: here the failing delivery of those tests could
// disable its webhook, and its last attempt would then end as skipped, not failed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { call, consoleLink, createWebhook, demoEntity, eventually, headingIs, page, publish, setUp, settled, shoot } from "./harness.mjs";

setUp({ WEBHOOKS_RETRY_SCHEDULE: "1s,1s,1s", WEBHOOKS_DISABLE_AFTER: "1s" });

// Publishes an event the receiver refuses until the webhook at `path` is disabled, then waits for
// its delivery to end (its attempt after the disabling is skipped), so that nothing changes the
// webhook behind the test's back. Answers the webhook as disabled.
async function disabledByFailing(path, entity) {
  await publish(entity, "fail-1");
  const disabled = await eventually(`${path} disabled`, async () => {
    const { json } = await call("GET", path);
    return !json.enabled && json.disabledReason && json;
  });
  await settled(path, 1);
  assert.match(disabled.disabledReason, /^failing since .+: .*500/, "since when, and the receiver's answer");
  return disabled;
}

// On the webhook's page: the notice gives the reason; `press` presses Enable again, which sends
// the version the page read; then the notice is gone, the page announced again and the webhook
// enabled.
async function enableAgain(path, disabled, press) {
  const notice = page.locator("#disabled-notice");
  await notice.getByText(disabled.disabledReason, { exact: true }).waitFor();
  await notice.getByText(/The platform disabled this webhook/).waitFor();
  const request = page.waitForRequest((r) => r.method() === "PATCH");
  await press(notice.getByRole("button", { name: "Enable again" }));
  const sent = await request;
  assert.equal(new URL(sent.url()).pathname, `/api${path}`);
  assert.deepEqual(JSON.parse(sent.postData()), { enabled: true, version: disabled.version });
  await notice.waitFor({ state: "detached" });
  await page.locator("#toast").getByText(`${disabled.name} resumed.`).waitFor();
  await page.waitForFunction(() => document.activeElement.tagName === "H1");
  const { json } = await call("GET", path);
  assert.equal(json.enabled, true);
  assert.equal(json.disabledReason, null, "enabling clears the reason");
}

test("a webhook the platform disabled: marked in the list, explained, and Enable again by keyboard", async () => {
  const entity = demoEntity();
  const webhook = await createWebhook(`/managing-entity/${entity}/webhook`, "Failing sync");
  const path = `/managing-entity/${entity}/webhook/${webhook.id}`;
  const disabled = await disabledByFailing(path, entity);

  await page.goto(consoleLink);
  await headingIs(page, "Webhooks");
  await page.getByRole("row", { name: /Failing sync/ }).getByText("Disabled", { exact: true }).waitFor();
  await shoot(page, "list-disabled");
  await page.getByRole("link", { name: "Deliveries of Failing sync" }).focus();
  await page.keyboard.press("Enter");
  await headingIs(page, "Deliveries of Failing sync");
  await page.locator(".figures").waitFor();
  await shoot(page, "health-disabled");
  await enableAgain(path, disabled, async (button) => {
    await button.focus();
    await page.keyboard.press("Enter");
  });
  await shoot(page, "health-enabled-again");
});

test("a global webhook the platform disabled, enabled again by mouse", async () => {
  const entity = randomUUID();
  const webhook = await createWebhook("/webhook", "Failing chain", { entities: [entity] });
  const path = `/webhook/${webhook.id}`;
  const disabled = await disabledByFailing(path, entity);

  await page.getByRole("navigation").getByRole("link", { name: "Global webhooks", exact: true }).click();
  await headingIs(page, "Global webhooks");
  await page.getByRole("row", { name: /Failing chain/ }).getByText("Disabled", { exact: true }).waitFor();
  await page.getByRole("link", { name: "Deliveries of Failing chain" }).click();
  await headingIs(page, "Deliveries of Failing chain");
  await shoot(page, "global-health-disabled");
  await enableAgain(path, disabled, (button) => button.click());
});
