// What every browser test file shares. node --test runs each file in a process of its own, so
// each file calls setUp() for its own local runner (with the environment it needs), receiver and
// Chromium page; the bindings below are filled in before its first test.
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, createPublicKey, verify } from "node:crypto";
import { mkdirSync } from "node:fs";
import http from "node:http";
import { chromium } from "playwright-core";

const runnerBin = process.env.WEBHOOKS_LOCAL_BIN;
const shots = process.env.SCREENSHOTS || "screenshots";
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
let runner, browser;
export let receiver, context, page, consoleLink, base, token;
// Every request the receiver got, in order.
export const received = [];

function startRunner(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(runnerBin, [], {
      env: { ...process.env, PORT: "0", WEBHOOKS_ALLOW_PRIVATE_URLS: "true", WEBHOOKS_BACKEND: "memory", RUST_LOG: "warn", ...env },
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

// Thanks every request with a 200, except an event whose booking id starts with "fail": that
// one it refuses with a 500, at every attempt, so a test decides which deliveries fail.
function startReceiver() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => { body += c; });
      req.on("end", () => {
        received.push({ url: req.url, headers: req.headers, body });
        let bookingId = "";
        try {
          bookingId = String(JSON.parse(body).data?.bookingId ?? "");
        } catch {
          // Not JSON: thanked like any other.
        }
        if (bookingId.startsWith("fail")) res.writeHead(500, { "content-type": "text/plain" }).end("not today");
        else res.writeHead(200, { "content-type": "text/plain" }).end("thanks");
      });
    });
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

// Starts the file's runner with `env` over the defaults (say a short retry schedule), the
// receiver and Chromium before its first test, and stops them after its last.
export function setUp(env = {}) {
  before(async () => {
    assert.ok(runnerBin, "WEBHOOKS_LOCAL_BIN names the runner binary (make test sets it)");
    mkdirSync(shots, { recursive: true });
    ({ child: runner, link: consoleLink, base, token } = await startRunner(env));
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
}

export async function shoot(target, name) {
  for (const width of [1280, 375]) {
    await target.setViewportSize({ width, height: 900 });
    await target.screenshot({ path: `${shots}/${name}-${width}.png`, fullPage: true });
    // Each frame too: a framed portal may scroll inside a frame that fits the page.
    for (const frame of width === 375 ? target.frames() : []) {
      const overflow = await frame.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name} scrolls sideways at 375 px by ${overflow} px in ${frame.url().split("#")[0]}`);
    }
  }
  await target.setViewportSize({ width: 1280, height: 900 });
}

// Waits for the page whose heading is `text` (routes render asynchronously).
export const headingIs = (target, text) => target.getByRole("heading", { level: 1, name: text, exact: true }).waitFor();
// Opens the printed console link, which signs in, and waits for the list.
export async function signIn() {
  await page.goto(consoleLink);
  await headingIs(page, "Webhooks");
}

export const activeId = () => page.evaluate(() => document.activeElement.id);

// The entity the printed console link signs in to.
export const demoEntity = () => new URLSearchParams(new URL(consoleLink).hash.slice(1)).get("entity");

// Publishes a booking.created event for `entity` through the API, as a platform would, and
// answers its id.
export async function publish(entity, bookingId) {
  const published = await fetch(`${base}/api/managing-entity/${entity}/event`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "booking.created", data: { bookingId } }),
  });
  assert.equal(published.status, 202);
  return (await published.json()).eventId;
}

// The API as a script uses it, with the printed token: the status and the JSON answered.
export async function call(method, path, body) {
  const response = await fetch(`${base}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body && { "content-type": "application/json" }) },
    body: body && JSON.stringify(body),
  });
  return { status: response.status, json: await response.json().catch(() => null) };
}

// Asks `probe()` every quarter second (well within the API's rate limit) until it answers
// something truthy, and answers that; fails with `what` after `seconds`.
export async function eventually(what, probe, seconds = 20) {
  for (let waited = 0; waited < seconds * 1000; waited += 250) {
    const answer = await probe();
    if (answer) return answer;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`${what}: not within ${seconds} s`);
}

// Creates a webhook through the API at `path` (an account's webhooks or /webhook for a global
// one, whose `entities` go in `more`), sending booking.created to the receiver, and answers it.
export async function createWebhook(path, name, more = {}) {
  const created = await call("POST", path,
    { name, eventUrl: `http://127.0.0.1:${receiver.address().port}/created`, eventList: ["booking.created"], ...more });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  return created.json;
}

// Waits until the webhook at `path` has `count` deliveries and none of them is pending any more:
// no attempt is left to change its figures or its state. Answers the deliveries.
export function settled(path, count) {
  return eventually(`${count} deliveries of ${path} ended`, async () => {
    const { items } = (await call("GET", `${path}/deliveries?limit=100`)).json;
    return items.length === count && items.every((d) => d.status !== "pending") && items;
  });
}

// A dev token like the printed one (same issuer and audience, the runner's default key) that
// covers only `entities` and was granted only `scope` (space-separated): how a narrower caller
// sees the console.
export function narrowToken(entities, scope = "") {
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({
    sub: "narrow-tester", entities, scope, iss: claims.iss, aud: claims.aud, iat: now, exp: now + 600 })}`;
  const key = process.env.WEBHOOKS_DEV_JWT_SECRET || "webhooks-local-dev-secret-not-for-production";
  return `${unsigned}.${createHmac("sha256", key).update(unsigned).digest("base64url")}`;
}

// ---- Send test: the dialog each webhook's row opens ----------------------------------------

// Opens the Send test dialog of webhook `name` from the list, by mouse, and answers it.
export async function openTestDialog(name) {
  await page.getByRole("button", { name: `Send a test event to ${name}` }).click();
  const dialog = page.getByRole("dialog", { name: `Send a test event to ${name}` });
  await dialog.waitFor();
  return dialog;
}

// Presses Send test in the open `dialog` (by `press(button)`, a click unless told) and answers
// the receiver's answer as the dialog then says it.
export async function sendTestFrom(dialog, press = (button) => button.click()) {
  await press(dialog.getByRole("button", { name: "Send test", exact: true }));
  const result = dialog.locator("#test-result");
  await result.getByText(/ (delivered|failed): /).waitFor();
  return result.textContent();
}

// Sends the plain test event to webhook `name` by mouse, closes the dialog and answers what it
// said.
export async function sendTest(name) {
  const dialog = await openTestDialog(name);
  const said = await sendTestFrom(dialog);
  await dialog.getByRole("button", { name: "Close", exact: true }).click();
  await dialog.waitFor({ state: "detached" });
  return said;
}

// Opens the webhook's delivery log, waits for a succeeded delivery and opens its 200 attempt.
export async function openSucceededDelivery(name) {
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

// Waits until the receiver has got, at `url` and since request number `from`, an event with each
// of `ids` as its webhook-id.
export async function receivedEvents(from, url, ids) {
  const got = () => received.slice(from).filter((r) => r.url === url).map((r) => r.headers["webhook-id"]);
  for (let i = 0; i < 100 && !ids.every((id) => got().includes(id)); i++) await page.waitForTimeout(100);
  assert.deepEqual(ids.filter((id) => !got().includes(id)), [], `the receiver got every event again at ${url}`);
}

// A Standard Webhooks signature of what the receiver got: base64 HMAC-SHA256 of
// "id.timestamp.body" under the secret's key.
export function signature(secret, request) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = `${request.headers["webhook-id"]}.${request.headers["webhook-timestamp"]}.${request.body}`;
  return `v1,${createHmac("sha256", key).update(signed).digest("base64")}`;
}

// Whether one `v1a,` signature of `request` verifies with `publicKey` (whpk_ and the base64 of 32
// bytes): Standard Webhooks' ed25519 check, by Node's own crypto rather than the service's code.
export function verifiesEd25519(publicKey, request) {
  const x = Buffer.from(publicKey.replace(/^whpk_/, ""), "base64").toString("base64url");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
  const signed = Buffer.from(`${request.headers["webhook-id"]}.${request.headers["webhook-timestamp"]}.${request.body}`);
  return request.headers["webhook-signature"].split(" ").filter((entry) => entry.startsWith("v1a,"))
    .some((entry) => verify(null, signed, key, Buffer.from(entry.slice(4), "base64")));
}

// Sends a test to `name` and answers the request the receiver got at `url`.
export async function testSent(name, url) {
  const before = received.length;
  assert.match(await sendTest(name), /delivered: 200/);
  const got = received.slice(before).filter((r) => r.url === url);
  assert.equal(got.length, 1, `one test reached ${url}`);
  return got[0];
}

// The delivery log's resend buttons, one per delivery.
export const resendButtons = () => page.getByRole("button", { name: /^Resend \S+ delivery …/ });
