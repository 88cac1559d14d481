// The portal (docs/contract.md 16) in a real browser: a platform's page on another loopback
// origin embeds it in an iframe, and the entity's user creates a webhook, sends it a test and
// reads its deliveries and health, by mouse and by keyboard, themed light and dark, each look at
// 1280 and 375 px. The same URL framed by any other origin is refused.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { call, demoEntity, headingIs, page, publish, receiver, setUp, shoot, signIn } from "./harness.mjs";

setUp();

const ENTITY_NAME = "The Siam Residences, Bangkok";

// A platform's page on its own loopback address (127.0.0.2, 127.0.0.3: other origins than the
// runner's 127.0.0.1) framing whatever `?src=` names. Answers its origin and the server.
function platformPage(address) {
  const server = http.createServer((req, res) => {
    const src = new URL(req.url, "http://x").searchParams.get("src") || "";
    const quoted = src.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bookings platform</title><style>body{margin:0;font-family:sans-serif}h1{margin:0.5rem 1rem}
iframe{display:block;width:100%;height:1100px;border:0}</style></head>
<body><h1>Bookings platform: your webhooks</h1><iframe title="Webhooks" src="${quoted}"></iframe></body></html>`);
  });
  return new Promise((resolve) => server.listen(0, address, () => resolve({ origin: `http://${address}:${server.address().port}`, server })));
}

// A session for the demo entity that `origin` may frame: its URL.
async function session(origin, more = {}) {
  const opened = await call("POST", `/managing-entity/${demoEntity()}/portal-session`,
    { allowedOrigin: origin, entityName: ENTITY_NAME, eventTypes: ["booking.*"], expiresIn: 600, ...more });
  assert.equal(opened.status, 201, JSON.stringify(opened.json));
  assert.ok(opened.json.url.includes(`/portal?origin=${encodeURIComponent(origin)}#token=`), opened.json.url);
  return opened.json.url;
}

// `url` with more query parameters (the theme), before its fragment.
function themed(url, theme) {
  const [address, fragment] = url.split("#");
  return `${address}&${new URLSearchParams(theme)}#${fragment}`;
}

// Opens the platform's page framing `src` and answers the portal's frame.
async function embed(platform, src) {
  await page.goto(`${platform.origin}/?src=${encodeURIComponent(src)}`);
  return page.frameLocator("iframe");
}

let platform, stranger;
before(async () => {
  platform = await platformPage("127.0.0.2");
  stranger = await platformPage("127.0.0.3");
});
after(() => {
  platform?.server.close();
  stranger?.server.close();
});

test("embedded, by mouse: create a webhook, send it a test, read its deliveries and health (light)", async () => {
  const portal = await embed(platform, await session(platform.origin));
  await headingIs(portal, "Webhooks");
  await portal.getByText(ENTITY_NAME).waitFor();
  const nav = portal.getByRole("navigation", { name: "Sections" });
  assert.deepEqual(await nav.getByRole("link").allTextContents(), ["Webhooks"], "no global webhooks, no catalog");
  assert.equal(await portal.getByRole("button", { name: "Sign out" }).count(), 0);
  await portal.getByText(/^Your endpoints receive this platform's events here as signed HTTP POSTs\..* This page works until /).waitFor();
  assert.equal(await portal.getByText(/embed the portal/).count(), 0, "the operator's help is not the user's");

  await portal.getByRole("link", { name: "Create webhook" }).click();
  await portal.getByLabel("Name", { exact: true }).fill("Portal sync");
  await portal.getByLabel("Endpoint URL").fill(`http://127.0.0.1:${receiver.address().port}/portal`);
  await portal.getByLabel("All events, including ones added later").uncheck();
  await portal.getByLabel(/booking\.created/).check();
  await portal.getByRole("button", { name: "Create webhook" }).click();
  await headingIs(portal, "Webhook created");
  await portal.getByRole("link", { name: "Done" }).click();
  await portal.getByRole("row", { name: /Portal sync/ }).waitFor();
  await shoot(page, "portal-light");

  await portal.getByRole("button", { name: "Send a test event to Portal sync" }).click();
  const dialog = portal.getByRole("dialog", { name: "Send a test event to Portal sync" });
  await dialog.getByRole("button", { name: "Send test", exact: true }).click();
  await dialog.locator("#test-result").getByText(/ delivered: 200/).waitFor();
  await dialog.getByRole("button", { name: "Close", exact: true }).click();

  await publish(demoEntity(), "b-portal");
  await portal.getByRole("link", { name: "Deliveries of Portal sync" }).click();
  await headingIs(portal, "Deliveries of Portal sync");
  await portal.getByRole("heading", { level: 2, name: "Health" }).waitFor();
  for (let i = 0; i < 50 && !(await portal.locator("summary", { hasText: "succeeded" }).count()); i++) {
    await page.waitForTimeout(200);
    await portal.getByRole("link", { name: "Webhooks", exact: true }).first().click();
    await portal.getByRole("link", { name: "Deliveries of Portal sync" }).click();
  }
  await portal.locator("summary", { hasText: "succeeded" }).first().waitFor();
  await shoot(page, "portal-deliveries-light");
});

test("embedded, by keyboard and themed dark with the platform's colour and font", async () => {
  const src = themed(await session(platform.origin), { theme: "dark", primary: "#f472b6", font: "Georgia, serif" });
  const portal = await embed(platform, src);
  await headingIs(portal, "Webhooks");
  const look = await portal.locator("html").evaluate((root) => {
    const style = getComputedStyle(root);
    return { bg: style.getPropertyValue("--bg").trim(), accent: style.getPropertyValue("--accent").trim(), font: style.fontFamily };
  });
  assert.deepEqual(look, { bg: "#111827", accent: "#f472b6", font: "Georgia, serif" });

  // Tab from the page's heading reaches Create, and the form's fields one after another.
  const focused = () => portal.locator(":focus").evaluate((element) => element.textContent.trim());
  await portal.getByRole("heading", { level: 1 }).focus();
  await page.keyboard.press("Tab");
  assert.equal(await focused(), "Create webhook");
  await page.keyboard.press("Enter");
  await portal.getByLabel("Name", { exact: true }).focus();
  await page.keyboard.type("Keyboard sync");
  const focusedId = () => portal.locator(":focus").getAttribute("id");
  await page.keyboard.press("Tab");
  assert.equal(await focusedId(), "ownerName", "Tab moves from the name to the account's name");
  await page.keyboard.press("Tab");
  assert.equal(await focusedId(), "eventUrl", "and on to the URL");
  await page.keyboard.type(`http://127.0.0.1:${receiver.address().port}/keys`);
  await portal.getByLabel("All events, including ones added later").focus();
  await page.keyboard.press("Space");
  await portal.getByLabel(/booking\.created/).focus();
  await page.keyboard.press("Space");
  await portal.getByRole("button", { name: "Create webhook" }).focus();
  await page.keyboard.press("Enter");
  await headingIs(portal, "Webhook created");
  await portal.getByRole("link", { name: "Done" }).focus();
  await page.keyboard.press("Enter");
  await portal.getByRole("button", { name: "Send a test event to Keyboard sync" }).focus();
  await page.keyboard.press("Enter");
  const dialog = portal.getByRole("dialog", { name: "Send a test event to Keyboard sync" });
  await dialog.getByRole("button", { name: "Send test", exact: true }).focus();
  await page.keyboard.press("Enter");
  await dialog.locator("#test-result").getByText(/ delivered: 200/).waitFor();
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await shoot(page, "portal-dark");
  await portal.getByRole("link", { name: "Deliveries of Keyboard sync" }).focus();
  await page.keyboard.press("Enter");
  await headingIs(portal, "Deliveries of Keyboard sync");
  await portal.getByRole("heading", { level: 2, name: "Health" }).waitFor();
  await shoot(page, "portal-deliveries-dark");
});

test("the same portal framed by another origin is refused, and so is a URL naming another origin", async () => {
  const url = await session(platform.origin);
  const calls = [];
  const record = (request) => new URL(request.url()).pathname.startsWith("/portal/api/") && calls.push(request.url());
  page.on("request", record);
  await embed(stranger, url);
  await page.waitForLoadState("load");
  const framed = page.frames().find((frame) => frame !== page.mainFrame());
  assert.ok(framed.url().startsWith("chrome-error:"), `the browser refused to frame it: ${framed.url()}`);
  assert.deepEqual(calls, [], "the refused portal made no call");

  // A URL edited to name the stranger gets past the browser, and the console refuses to run.
  const edited = url.replace(encodeURIComponent(platform.origin), encodeURIComponent(stranger.origin));
  const portal = await embed(stranger, edited);
  await portal.getByRole("alert").getByText("This portal may not be shown on this page.").waitFor();
  assert.deepEqual(calls, [], "nor did the edited one");
  page.off("request", record);
});

test("a read-only portal offers no change, an ended one says so, and the operator's console points to the portal", async () => {
  const portal = await embed(platform, await session(platform.origin, { readOnly: true }));
  await headingIs(portal, "Webhooks");
  await portal.getByText("Read only", { exact: true }).waitFor();
  await portal.getByText(/This page lets you look only: changes are refused\./).waitFor();
  await portal.getByRole("row", { name: /Portal sync/ }).waitFor();
  assert.equal(await portal.getByRole("link", { name: "Create webhook" }).count(), 0, "nothing it may not do is offered");
  assert.equal(await portal.getByRole("button", { name: "Remove Portal sync" }).count(), 0);

  const ended = await session(platform.origin, { expiresIn: 1 });
  await page.waitForTimeout(2_000);
  const late = await embed(platform, ended);
  await late.getByRole("alert").getByText("This page's access has ended. Open it again from the platform.").waitFor();

  await signIn();
  await page.getByText(/embed the portal: your backend, with a token holding the scope portal:create, opens a session/).waitFor();
});
