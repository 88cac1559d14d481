// What a webhook is delivered, how fast and in which order, in a real browser: the form's filter
// editor (mistakes beside it, from the browser and from the API), rate limit and ordering saved
// and shown again, for an account's webhook and a global one; and the Send test dialog's verdict
// on the filter for data of one's own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  activeId, call, consoleLink, createWebhook, demoEntity, headingIs, openTestDialog, page, received, receiver, sendTestFrom,
  setUp, shoot,
} from "./harness.mjs";

setUp();

const FILTER = { data: { total: { currency: "USD" }, guests: { adults: { $gte: 2 } } } };
const filterInput = () => page.getByLabel("Filter (JSON)");
const rateInput = () => page.getByLabel("Rate limit (deliveries per second)");
const orderingSelect = () => page.getByLabel("Ordering", { exact: true });
const isCreate = (r) => r.method() === "POST" && new URL(r.url()).pathname === `/api/managing-entity/${demoEntity()}/webhook`;
// Every request `method` the page makes from now on, to tell that a mistake sent nothing.
function requests(method) {
  const seen = [];
  page.on("request", (r) => { if (r.method() === method) seen.push(r); });
  return seen;
}
let hookPath;

test("the filter editor: bad JSON beside it before sending, an unknown operator beside it from the API", async () => {
  await page.goto(consoleLink);
  await headingIs(page, "Webhooks");
  await page.getByRole("link", { name: "Create webhook" }).click();
  await headingIs(page, "Create webhook");
  await page.getByLabel("Name", { exact: true }).fill("Filtered sync");
  await page.getByLabel("Endpoint URL").fill(`http://127.0.0.1:${receiver.address().port}/filtered`);
  await page.getByLabel("All events, including ones added later").uncheck();
  await page.getByLabel(/booking\.created/).check();
  const posts = requests("POST");
  const error = page.locator("#filter-error");

  await filterInput().fill('{"data": {"total": ');
  await page.getByRole("button", { name: "Create webhook" }).click();
  await error.getByText(/^Not valid JSON/).waitFor();
  assert.equal(await filterInput().getAttribute("aria-invalid"), "true");
  assert.equal(await activeId(), "filter", "focus goes to the field to fix");
  await shoot(page, "form-filter-json-error");
  await filterInput().fill('["USD"]');
  await page.getByRole("button", { name: "Create webhook" }).click();
  await error.getByText(/^Enter a JSON object/).waitFor();
  assert.equal(posts.length, 0, "nothing is sent");

  const unknown = { data: { guests: { adults: { $gtee: 2 } } } };
  await filterInput().fill(JSON.stringify(unknown));
  const sent = page.waitForRequest(isCreate);
  await page.getByRole("button", { name: "Create webhook" }).click();
  assert.deepEqual(JSON.parse((await sent).postData()).filter, unknown);
  await error.getByText("/filter/data/guests/adults/$gtee", { exact: false }).waitFor();
  assert.equal(await filterInput().getAttribute("aria-invalid"), "true");
  assert.equal(await activeId(), "filter");
  await shoot(page, "form-filter-api-error");
});

test("a filter, a rate limit and FIFO ordering are saved and shown again when editing", async () => {
  await filterInput().fill(JSON.stringify(FILTER, null, 2));
  await rateInput().fill("25");
  await orderingSelect().selectOption({ label: "FIFO (one at a time, in publish order)" });
  await page.getByText(/FIFO delivers one event at a time/).waitFor();
  // Focus off the number input first: after a full-page screenshot taken while one has focus,
  // Chromium scrolls at the next mousedown, and the click below would miss its button.
  await orderingSelect().focus();
  await shoot(page, "form-delivery");
  const sent = page.waitForRequest(isCreate);
  await page.getByRole("button", { name: "Create webhook" }).click();
  const body = JSON.parse((await sent).postData());
  assert.deepEqual([body.filter, body.rateLimit, body.ordering], [FILTER, 25, "fifo"]);
  await headingIs(page, "Webhook created");
  await page.getByRole("link", { name: "Done" }).click();
  await headingIs(page, "Webhooks");

  const edit = page.getByRole("link", { name: "Edit Filtered sync" });
  hookPath = `/managing-entity/${demoEntity()}/webhook/${(await edit.getAttribute("href")).split("/").pop()}`;
  const { json } = await call("GET", hookPath);
  assert.deepEqual([json.filter, json.rateLimit, json.ordering], [FILTER, 25, "fifo"]);
  await edit.click();
  await headingIs(page, "Edit Filtered sync");
  assert.deepEqual(JSON.parse(await filterInput().inputValue()), FILTER);
  assert.equal(await rateInput().inputValue(), "25");
  assert.equal(await orderingSelect().inputValue(), "fifo");
  await shoot(page, "form-delivery-edit");
});

test("by keyboard: a rate limit out of range shown beside it, then no limit and unordered again, the filter kept", async () => {
  const puts = requests("PUT");
  await rateInput().focus();
  await page.keyboard.press("Control+A");
  await page.keyboard.type("0");
  await page.keyboard.press("Enter");
  await page.locator("#rateLimit-error").getByText(/from 1 to 10,000/).waitFor();
  assert.equal(await rateInput().getAttribute("aria-invalid"), "true");
  assert.equal(puts.length, 0, "nothing is sent");

  await orderingSelect().focus();
  await page.keyboard.press("ArrowUp");
  assert.equal(await orderingSelect().inputValue(), "unordered");
  await rateInput().focus();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Backspace");
  const sent = page.waitForRequest((r) => r.method() === "PUT");
  await page.keyboard.press("Enter");
  const body = JSON.parse((await sent).postData());
  assert.deepEqual([body.filter, body.rateLimit, body.ordering], [FILTER, null, "unordered"], "empty is no limit");
  await headingIs(page, "Webhooks");
  const { json } = await call("GET", hookPath);
  assert.deepEqual([json.filter, json.rateLimit, json.ordering], [FILTER, null, "unordered"]);
});

test("Send test says whether the filter matches: the type's example does, other data does not", async () => {
  const example = (await call("GET", "/event-types")).json.items.find((t) => t.name === "booking.created").example;
  const dialog = await openTestDialog("Filtered sync");
  const data = dialog.getByLabel("Data (JSON)");
  assert.equal(await data.inputValue(), "", "the plain test event has no example");
  await dialog.getByLabel("Event type").selectOption("booking.created");
  assert.deepEqual(JSON.parse(await data.inputValue()), example, "the data starts as the type's example");
  const sent = page.waitForRequest((r) => new URL(r.url()).pathname === `/api${hookPath}/test`);
  assert.match(await sendTestFrom(dialog), /delivered: 200/);
  assert.deepEqual(JSON.parse((await sent).postData()), { eventType: "booking.created", data: example });
  await dialog.locator("#test-filter").getByText(/^Filter: matches/).waitFor();
  await shoot(page, "test-dialog-match");

  // By keyboard: the same booking in euros, which the filter does not let through.
  const before = received.length;
  await data.focus();
  await page.keyboard.press("Control+A");
  await page.keyboard.type(JSON.stringify({ ...example, total: { ...example.total, currency: "EUR" } }));
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Send test");
  assert.match(await sendTestFrom(dialog, () => page.keyboard.press("Enter")), /delivered: 200/);
  await dialog.locator("#test-filter").getByText(/^Filter: does not match/).waitFor();
  const got = received.slice(before).filter((r) => r.url === "/filtered");
  assert.equal(got.length, 1, "the test is sent whatever the filter says");
  assert.equal(JSON.parse(got[0].body).data.total.currency, "EUR");
  await shoot(page, "test-dialog-no-match");

  const posts = requests("POST");
  await data.fill("{ not json");
  await dialog.getByRole("button", { name: "Send test", exact: true }).click();
  await dialog.locator("#data-error").getByText(/^Not valid JSON/).waitFor();
  assert.equal(await data.getAttribute("aria-invalid"), "true");
  assert.equal(await activeId(), "data");
  assert.equal(posts.length, 0, "nothing is sent");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
});

test("a global webhook: its rate limit and ordering shown, a filter on the type added by mouse and tried", async () => {
  const created = await createWebhook("/webhook", "Chain paced", { entities: [randomUUID()], rateLimit: 100, ordering: "fifo" });
  assert.equal(created.filter, null);
  await page.getByRole("navigation").getByRole("link", { name: "Global webhooks", exact: true }).click();
  await headingIs(page, "Global webhooks");
  await page.getByRole("link", { name: "Edit Chain paced" }).click();
  await headingIs(page, "Edit Chain paced");
  assert.equal(await filterInput().inputValue(), "", "no filter");
  assert.equal(await rateInput().inputValue(), "100");
  assert.equal(await orderingSelect().inputValue(), "fifo");
  const filter = { type: { $startsWith: "booking." } };
  await filterInput().fill(JSON.stringify(filter));
  await shoot(page, "global-form-delivery");
  const sent = page.waitForRequest((r) => r.method() === "PUT");
  await page.getByRole("button", { name: "Save changes" }).click();
  const body = JSON.parse((await sent).postData());
  assert.deepEqual([body.filter, body.rateLimit, body.ordering], [filter, 100, "fifo"]);
  await headingIs(page, "Global webhooks");
  assert.deepEqual((await call("GET", `/webhook/${created.id}`)).json.filter, filter);

  const dialog = await openTestDialog("Chain paced");
  assert.match(await sendTestFrom(dialog), /delivered: 200/);
  await dialog.locator("#test-filter").getByText(/^Filter: does not match/).waitFor();
  await dialog.getByLabel("Event type").selectOption("booking.created");
  assert.match(await sendTestFrom(dialog), /delivered: 200/);
  await dialog.locator("#test-filter").getByText(/^Filter: matches/).waitFor();
  await shoot(page, "global-test-dialog-match");
  await dialog.getByRole("button", { name: "Close", exact: true }).click();
  await dialog.waitFor({ state: "detached" });
});
