// The event catalog in a real browser: the operator's Event types page (create with a schema,
// mistakes shown beside their fields, edit, archive with a confirmation) by mouse and by
// keyboard, offered only to a token with event-types:write; and the webhook form's event
// picker reading the catalog (an archived type no longer offered to a new choice, the
// platform's webhook.disabled offered).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  activeId, base, call, consoleLink, context, createWebhook, demoEntity, headingIs, narrowToken, page, receiver, setUp, shoot,
} from "./harness.mjs";

setUp();

const SCHEMA = {
  type: "object",
  properties: { rating: { type: "integer", minimum: 1, maximum: 5 }, text: { type: "string" } },
  required: ["rating"],
};
const EXAMPLE = { rating: 5, text: "Lovely view of the river." };
const typeRow = (name) => page.getByRole("row", { name: new RegExp(name.replace(/[.*]/g, "\\$&")) });
const catalogType = async (name) => (await call("GET", "/event-types")).json.items.find((t) => t.name === name);
// Every request `method` the page makes from now on, to tell that a mistake sent nothing.
function requests(method) {
  const seen = [];
  page.on("request", (r) => { if (r.method() === method) seen.push(r); });
  return seen;
}
let reviewsHook;

test("the Event types page is in the navigation and lists the whole catalog", async () => {
  await page.goto(consoleLink);
  await headingIs(page, "Webhooks");
  const link = page.getByRole("navigation").getByRole("link", { name: "Event types", exact: true });
  await link.click();
  await headingIs(page, "Event types");
  assert.equal(await link.getAttribute("aria-current"), "page");
  const { items } = (await call("GET", "/event-types")).json;
  await typeRow("booking.created").waitFor();
  assert.equal(await page.locator("tbody tr").count(), items.length, "a row a type");
  const created = await typeRow("booking.created").textContent();
  assert.ok(created.includes(items.find((t) => t.name === "booking.created").description));
  assert.match(created, /JSON Schema/);
  assert.match(created, /Active/);
  const platform = typeRow("webhook.disabled");
  await platform.getByText("Platform", { exact: true }).waitFor();
  assert.equal(await platform.getByRole("button").count() + await platform.getByRole("link").count(), 0,
    "the platform's own type is neither edited nor archived");
  await shoot(page, "event-types");
});

test("a token without event-types:write is offered no Event types page, and its writes are refused", async () => {
  const narrow = await context.newPage();
  await narrow.goto(`${base}/#token=${narrowToken(demoEntity(), "events:publish")}&entity=${demoEntity()}`);
  await headingIs(narrow, "Webhooks");
  await narrow.getByRole("link", { name: "Global webhooks", exact: true }).waitFor();
  assert.equal(await narrow.getByRole("link", { name: "Event types" }).count(), 0);
  // The page is an address away all the same: the API decides.
  await narrow.evaluate(() => { location.hash = "#/event-types/new"; });
  await headingIs(narrow, "Create event type");
  await narrow.getByLabel("Name", { exact: true }).fill("review.denied");
  await narrow.getByLabel("Description").fill("Never written.");
  await narrow.getByRole("button", { name: "Create event type" }).click();
  await narrow.getByRole("alert").getByText(/lacks the event-types:write scope/).waitFor();
  assert.equal(await catalogType("review.denied"), undefined);
  await narrow.close();
});

test("create an event type by mouse: bad JSON and an example breaking the schema shown beside their fields", async () => {
  await page.getByRole("link", { name: "Create event type" }).click();
  await headingIs(page, "Create event type");
  const puts = requests("PUT");
  await page.getByLabel("Name", { exact: true }).fill("review.posted");
  await page.getByLabel("Description").fill("A guest posted a review of their stay.");
  await page.getByLabel("Schema (JSON)").fill('{"type": "object", "properties": {"rating": {"type": "integer"}');
  await page.getByLabel("Example (JSON)").fill(JSON.stringify({ rating: "five" }));
  await page.getByRole("button", { name: "Create event type" }).click();
  await page.locator("#schema-error").getByText(/^Not valid JSON/).waitFor();
  assert.equal(await page.getByLabel("Schema (JSON)").getAttribute("aria-invalid"), "true");
  assert.equal(await activeId(), "schema", "focus goes to the field to fix");
  assert.equal(puts.length, 0, "nothing is sent");
  await shoot(page, "event-type-json-error");

  // The API checks the example against the schema: its 422 names the example's part.
  await page.getByLabel("Schema (JSON)").fill(JSON.stringify(SCHEMA, null, 2));
  const sent = page.waitForRequest((r) => r.method() === "PUT");
  await page.getByRole("button", { name: "Create event type" }).click();
  const request = await sent;
  assert.equal(new URL(request.url()).pathname, "/api/event-types/review.posted");
  assert.deepEqual(JSON.parse(request.postData()),
    { description: "A guest posted a review of their stay.", schema: SCHEMA, example: { rating: "five" } });
  await page.locator("#example-error").getByText("/example/rating", { exact: false }).waitFor();
  assert.equal(await page.getByLabel("Example (JSON)").getAttribute("aria-invalid"), "true");
  assert.equal(await page.getByLabel("Schema (JSON)").getAttribute("aria-invalid"), null, "the schema is fine now");
  assert.equal(await activeId(), "example");
  await shoot(page, "event-type-example-error");

  await page.getByLabel("Example (JSON)").fill(JSON.stringify(EXAMPLE));
  await page.getByRole("button", { name: "Create event type" }).click();
  await headingIs(page, "Event types");
  await page.locator("#toast").getByText("review.posted created.").waitFor();
  const row = await typeRow("review.posted").textContent();
  assert.match(row, /A guest posted a review of their stay\./);
  assert.match(row, /JSON Schema/);
  const stored = await catalogType("review.posted");
  assert.deepEqual([stored.schema, stored.example, stored.archived], [SCHEMA, EXAMPLE, false]);
});

test("edit an event type by keyboard: its name read-only, its schema and example shown", async () => {
  await page.getByRole("link", { name: "Edit review.posted" }).focus();
  await page.keyboard.press("Enter");
  await headingIs(page, "Edit review.posted");
  const name = page.getByLabel("Name", { exact: true });
  assert.equal(await name.inputValue(), "review.posted");
  assert.equal(await name.getAttribute("readonly"), "", "a type's name never changes");
  assert.deepEqual(JSON.parse(await page.getByLabel("Schema (JSON)").inputValue()), SCHEMA);
  assert.deepEqual(JSON.parse(await page.getByLabel("Example (JSON)").inputValue()), EXAMPLE);
  await page.keyboard.press("Tab");
  assert.equal(await activeId(), "name");
  await page.keyboard.press("Tab");
  assert.equal(await activeId(), "description");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("A guest reviewed their stay.");
  await shoot(page, "event-type-edit");
  const sent = page.waitForRequest((r) => r.method() === "PUT");
  await page.keyboard.press("Enter");
  assert.deepEqual(JSON.parse((await sent).postData()), { description: "A guest reviewed their stay.", schema: SCHEMA, example: EXAMPLE });
  await headingIs(page, "Event types");
  assert.match(await typeRow("review.posted").textContent(), /A guest reviewed their stay\./);
});

test("archive an event type by keyboard, after a confirmation: the Archived badge", async () => {
  // Subscribed before the archiving: it keeps the type (see the next test).
  reviewsHook = await createWebhook(`/managing-entity/${demoEntity()}/webhook`, "Reviews sync",
    { eventList: ["review.posted", "payment.*"] });
  const deletes = requests("DELETE");
  const button = page.getByRole("button", { name: "Archive review.posted" });
  await button.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Archive event type?" });
  await dialog.waitFor();
  await dialog.getByText(/Those subscribed to it keep receiving it/).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Cancel", "the safe choice has focus");
  await shoot(page, "event-type-archive-confirm");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal(deletes.length, 0, "Escape archives nothing");

  await button.focus();
  await page.keyboard.press("Enter");
  await dialog.waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Archive");
  const sent = page.waitForRequest((r) => r.method() === "DELETE");
  await page.keyboard.press("Enter");
  assert.equal(new URL((await sent).url()).pathname, "/api/event-types/review.posted");
  await page.locator("#toast").getByText("review.posted archived.").waitFor();
  const row = typeRow("review.posted");
  await row.getByText("Archived", { exact: true }).waitFor();
  assert.equal(await row.getByRole("button", { name: "Archive review.posted" }).count(), 0, "archived once");
  assert.equal(await row.getByRole("link", { name: "Edit review.posted" }).textContent(), "Edit and restore");
  assert.equal(await page.evaluate(() => document.activeElement.tagName), "H1", "the page is announced again");
  assert.equal((await catalogType("review.posted")).archived, true);
  await shoot(page, "event-types-archived");
});

test("the webhook form offers no archived type to a new webhook, and offers webhook.disabled", async () => {
  await page.getByRole("navigation").getByRole("link", { name: "Account webhooks", exact: true }).click();
  await headingIs(page, "Webhooks");
  await page.getByRole("link", { name: "Create webhook" }).click();
  await headingIs(page, "Create webhook");
  await page.getByLabel(/booking\.created/).waitFor();
  assert.equal(await page.getByLabel(/review\.posted/).count(), 0, "archived: not offered");
  const notice = await catalogType("webhook.disabled");
  assert.ok(notice.platform);
  const label = await page.locator("label", { hasText: "webhook.disabled" }).textContent();
  assert.ok(label.includes(notice.description), "offered with its description");

  await page.getByLabel("Name", { exact: true }).fill("Disabled notices");
  await page.getByLabel("Endpoint URL").fill(`http://127.0.0.1:${receiver.address().port}/notices`);
  await page.getByLabel("All events, including ones added later").uncheck();
  await page.getByLabel(/webhook\.disabled/).check();
  await shoot(page, "form-events-catalog");
  const sent = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname.endsWith("/webhook"));
  await page.getByRole("button", { name: "Create webhook" }).click();
  assert.deepEqual(JSON.parse((await sent).postData()).eventList, ["webhook.disabled"]);
  await headingIs(page, "Webhook created");
  await page.getByRole("link", { name: "Done" }).click();
  await headingIs(page, "Webhooks");
});

test("a webhook listing an archived type keeps it checked and marked, and its family too", async () => {
  await page.getByRole("link", { name: "Edit Reviews sync" }).click();
  await headingIs(page, "Edit Reviews sync");
  const archived = page.getByLabel(/review\.posted/);
  assert.ok(await archived.isChecked(), "still listed");
  assert.match(await page.locator("label", { hasText: "review.posted" }).textContent(), /Archived/);
  assert.ok(await page.getByLabel(/payment\.\*/).isChecked(), "a family it lists is shown, so saving keeps it");
  await shoot(page, "form-archived-type");
  const sent = page.waitForRequest((r) => r.method() === "PUT");
  await page.getByRole("button", { name: "Save changes" }).click();
  assert.deepEqual(JSON.parse((await sent).postData()).eventList, ["review.posted", "payment.*"]);
  await headingIs(page, "Webhooks");
  const { json } = await call("GET", `/managing-entity/${demoEntity()}/webhook/${reviewsHook.id}`);
  assert.deepEqual(json.eventList, ["review.posted", "payment.*"]);
});
