// The console in a real browser against the local runner: every flow a person uses, by
// mouse and by keyboard, with a screenshot of each page at 1280 and 375 px.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import http from "node:http";
import { chromium } from "playwright-core";

const runnerBin = process.env.WEBHOOKS_LOCAL_BIN;
const shots = process.env.SCREENSHOTS || "screenshots";
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
let runner, receiver, browser, context, page, consoleLink, base, token;
const received = [];

function startRunner() {
  return new Promise((resolve, reject) => {
    const child = spawn(runnerBin, [], {
      env: { ...process.env, PORT: "0", WEBHOOKS_ALLOW_PRIVATE_URLS: "true", WEBHOOKS_BACKEND: "memory", RUST_LOG: "warn" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const link = out.match(/(http:\/\/127\.0\.0\.1:\d+)\/#token=([^&\s]+)&entity=(\S+)/);
      if (link) resolve({ child, link: link[0], base: link[1], token: link[2] });
    });
    child.on("exit", (code) => reject(new Error(`the runner exited with ${code}: ${out}`)));
  });
}

function startReceiver() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => { body += c; });
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200, { "content-type": "text/plain" }).end("thanks");
      });
    });
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

async function shoot(target, name) {
  for (const width of [1280, 375]) {
    await target.setViewportSize({ width, height: 900 });
    await target.screenshot({ path: `${shots}/${name}-${width}.png`, fullPage: true });
    if (width === 375) {
      const overflow = await target.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} scrolls sideways at 375 px by ${overflow} px`);
    }
  }
  await target.setViewportSize({ width: 1280, height: 900 });
}

// Waits for the page whose heading is `text` (routes render asynchronously).
const headingIs = (target, text) => target.getByRole("heading", { level: 1, name: text, exact: true }).waitFor();

before(async () => {
  assert.ok(runnerBin, "WEBHOOKS_LOCAL_BIN names the runner binary (make test sets it)");
  mkdirSync(shots, { recursive: true });
  ({ child: runner, link: consoleLink, base, token } = await startRunner());
  receiver = await startReceiver();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on("pageerror", (err) => { throw err; });
});

after(async () => {
  await browser?.close();
  receiver?.close();
  runner?.kill();
});

test("the printed console link signs in and shows the list", async () => {
  await page.goto(consoleLink);
  await headingIs(page, "Webhooks");
  assert.ok(!page.url().includes("token="), "the token leaves the address bar");
  await page.getByText("No webhooks yet").waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.tagName), "H1", "focus moves to the page heading");
  await shoot(page, "list-empty");
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
  await page.getByRole("button", { name: "Send a test event to Changed elsewhere" }).click();
  const result = page.locator("#test-result");
  await result.getByText(/delivered: 200 in \d+ ms/).waitFor();
  assert.equal(received.length, before + 1);
  assert.equal(JSON.parse(received.at(-1).body).type, "webhook.test");
  await shoot(page, "list-tested");
});

test("the delivery log shows each attempt", async () => {
  const entity = await page.evaluate(() => sessionStorage.getItem("webhooks.entity"));
  const published = await fetch(`${base}/api/managing-entity/${entity}/event`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "booking.created", data: { bookingId: "b-1" } }),
  });
  assert.equal(published.status, 202);
  await page.getByRole("link", { name: "Deliveries of Changed elsewhere" }).click();
  await headingIs(page, "Deliveries of Changed elsewhere");
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
  await shoot(page, "deliveries");
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
  await page.getByRole("button", { name: `Send a test event to ${name}` }).click();
  await page.locator("#test-result").getByText(/delivered: 200/).waitFor();
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
