// A webhook's health panel in a real browser: the figures and hourly chart of its deliveries over
// the period chosen, for an account's webhook and a global one, by mouse and by keyboard. A
// failing delivery ends after two attempts a second apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { consoleLink, createWebhook, demoEntity, headingIs, page, publish, setUp, settled, shoot } from "./harness.mjs";

setUp({ WEBHOOKS_RETRY_SCHEDULE: "1s" });

const HOUR = 3_600_000;
const bars = () => page.locator(".chart svg .bar");
// The figure the panel shows under `label`.
const figure = (label) => page.locator(".figures > div").filter({ has: page.getByText(label, { exact: true }) }).locator("dd");
const isStats = (path) => (r) => new URL(r.url()).pathname === `/api${path}/stats`;
// How far `since` of the stats request `request` is from `hours` before now, in ms.
const offBy = (request, hours) => Math.abs(Date.now() - hours * HOUR - Date.parse(new URL(request.url()).searchParams.get("since")));
// The succeeded and failed deliveries the bars' titles (shown on hover) add up to.
async function titled() {
  const titles = await page.locator(".chart .bar title").allTextContents();
  const sum = (word) => titles.reduce((n, t) => n + Number(t.match(new RegExp(`(\\d+) ${word}`))[1]), 0);
  return { succeeded: sum("succeeded"), failed: sum("failed") };
}

let hookPath;

test("the health panel shows the success rate, the counts and an hourly chart, by mouse", async () => {
  const entity = demoEntity();
  const webhook = await createWebhook(`/managing-entity/${entity}/webhook`, "Mixed sync");
  hookPath = `/managing-entity/${entity}/webhook/${webhook.id}`;
  // The receiver refuses the "fail" booking at both attempts.
  for (const booking of ["b-1", "b-2", "b-3", "b-4", "fail-1"]) await publish(entity, booking);
  await settled(hookPath, 5);

  await page.goto(consoleLink);
  await headingIs(page, "Webhooks");
  const asked = page.waitForRequest(isStats(hookPath));
  const answered = page.waitForResponse(isStats(hookPath));
  await page.getByRole("link", { name: "Deliveries of Mixed sync" }).click();
  await headingIs(page, "Deliveries of Mixed sync");
  assert.ok(offBy(await asked, 24) < 60_000, "the last 24 hours at first");
  await page.getByRole("heading", { level: 2, name: "Health" }).waitFor();
  await figure("Success rate").waitFor();
  assert.match(await figure("Success rate").textContent(), /^80\s?%$/);
  assert.equal(await figure("Succeeded").textContent(), "4");
  assert.equal(await figure("Failed").textContent(), "1");
  assert.equal(await figure("Pending").textContent(), "0");
  assert.equal(await figure("Skipped").textContent(), "0");
  assert.match(await figure("Latency p50").textContent(), /^\d+ ms$/);
  assert.match(await figure("Latency p95").textContent(), /^\d+ ms$/);

  const chart = page.getByRole("img", { name: /^Deliveries per hour/ });
  assert.match(await chart.getAttribute("aria-label"), /: 4 succeeded and 1 failed; failures in 1 of \d+ hours, the latest at /);
  const { series } = await (await answered).json();
  assert.equal(await bars().count(), series.length, "a bar an hour");
  assert.ok((await page.locator(".chart rect.succeeded").count()) >= 1, "succeeded ones are drawn");
  assert.ok((await page.locator(".chart rect.failed").count()) >= 1, "failed ones are drawn");
  assert.deepEqual(await titled(), { succeeded: 4, failed: 1 }, "each bar's title gives its hour's figures");
  assert.equal(await page.locator(".chart [style]").count(), 0, "no inline style: the CSP refuses it");
  await shoot(page, "health");
});

test("the period chosen by keyboard: the last 7 days, a bar an hour", async () => {
  const shown = await bars().count();
  const period = page.getByLabel("Period", { exact: true });
  const asked = page.waitForRequest(isStats(hookPath));
  const answered = page.waitForResponse(isStats(hookPath));
  await period.focus();
  await page.keyboard.press("ArrowDown");
  assert.equal(await period.inputValue(), String(7 * 24));
  assert.ok(offBy(await asked, 7 * 24) < 60_000, "since a week ago");
  const { series } = await (await answered).json();
  await page.waitForFunction((count) => document.querySelectorAll(".chart svg .bar").length === count, series.length);
  assert.ok(series.length > shown, `more bars than the ${shown} of a day`);
  assert.match(await figure("Success rate").textContent(), /^80\s?%$/);
  assert.deepEqual(await titled(), { succeeded: 4, failed: 1 });
  await shoot(page, "health-7-days");
});

test("a global webhook's health panel before anything was delivered, by keyboard", async () => {
  const webhook = await createWebhook("/webhook", "Chain health", { entities: [randomUUID()] });
  const path = `/webhook/${webhook.id}`;
  await page.getByRole("navigation").getByRole("link", { name: "Global webhooks", exact: true }).click();
  await headingIs(page, "Global webhooks");
  const asked = page.waitForRequest(isStats(path));
  await page.getByRole("link", { name: "Deliveries of Chain health" }).focus();
  await page.keyboard.press("Enter");
  await headingIs(page, "Deliveries of Chain health");
  await asked;
  await figure("Success rate").waitFor();
  assert.equal(await figure("Success rate").textContent(), "No deliveries in this period");
  assert.equal(await figure("Succeeded").textContent(), "0");
  assert.equal(await figure("Latency p50").textContent(), "—");
  const chart = page.getByRole("img", { name: /^Deliveries per hour/ });
  assert.match(await chart.getAttribute("aria-label"), /: 0 succeeded and 0 failed\.$/);
  assert.ok((await bars().count()) >= 24, "every hour has its place");
  assert.equal(await page.locator(".chart rect.succeeded, .chart rect.failed").count(), 0, "and no bar");
  assert.equal(await page.locator("#disabled-notice").count(), 0, "an enabled webhook has no notice");
  await shoot(page, "health-empty");
});
