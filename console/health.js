// Whether a webhook receives, and how well: pausing and resuming it, and the health section at
// the top of its delivery log (how its deliveries ended over a period, how fast its receiver
// answered, the hours as a bar chart and, when the platform disabled it for failing, why, with
// the way to enable it again).
import { api, webhookPath } from "./api.js";
import { h, replace, svg, toast } from "./dom.js";

const HOUR = 3_600_000;
const PERIODS = [[24, "Last 24 hours"], [7 * 24, "Last 7 days"]];
// The chart in its own units, stretched to the width there is: each hour a column with a bar
// and a gap, the busiest hour's bar as high as the chart. A bar of one delivery among thousands
// still shows.
const COLUMN = 10;
const BAR = 8;
const HEIGHT = 100;
const LOWEST = 3;

// Rounded down: one failure in thousands is not a 100% rate.
const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1, roundingMode: "floor" });
const hour = (iso) => new Date(iso).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const ms = (value) => (value === null || value === undefined ? "—" : `${Math.round(value)} ms`);

// Pauses or resumes `webhook` at the version shown and says how it went; then `reload()` shows
// it as it now is, also when someone else changed it meanwhile. Enabling it also ends a disabling
// by the platform: the API clears its reason.
export async function setEnabled(scope, webhook, enabled, reload) {
  try {
    await api("PATCH", webhookPath(scope, webhook.id), { body: { enabled, version: webhook.version } });
    toast(`${webhook.name} ${enabled ? "resumed" : "paused"}.`);
  } catch (err) {
    toast(err.status === 409 ? "Someone else changed this webhook; it is shown as it is now." : err.message);
  }
  await reload();
}

// Why the platform stopped sending to `webhook`, or null when it did not.
function disabledNotice(scope, webhook, reload) {
  if (!webhook.disabledReason) return null;
  // One press, one request: the page is shown again once it is answered.
  const enable = () => {
    button.disabled = true;
    setEnabled(scope, webhook, true, reload);
  };
  const button = h("button", { type: "button", onclick: enable }, "Enable again");
  return h("div", { class: "notice", id: "disabled-notice" },
    h("p", {}, h("strong", {}, "The platform disabled this webhook because it kept failing. "),
      "No events are sent to it until it is enabled again."),
    h("p", { class: "reason" }, webhook.disabledReason),
    button);
}

// Of the deliveries that succeeded or failed, the share that succeeded (pending and skipped ones
// have no say).
function successRate({ counts, successRate: rate }) {
  if (rate !== null) return percent.format(rate);
  return Object.values(counts).some(Boolean) ? "None succeeded or failed" : "No deliveries in this period";
}

function figures(stats) {
  const { counts, latencyMs } = stats;
  const item = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
  return h("dl", { class: "figures" },
    item("Success rate", successRate(stats)),
    item("Succeeded", String(counts.succeeded)),
    item("Failed", String(counts.failed)),
    item("Pending", String(counts.pending)),
    item("Skipped", String(counts.skipped)),
    item("Latency p50", ms(latencyMs.p50)),
    item("Latency p95", ms(latencyMs.p95)));
}

// What the chart shows, in words: its accessible name, as the bars are not read out one by one.
function summary({ since, until, series }) {
  const sum = (key) => series.reduce((n, p) => n + p[key], 0);
  const failing = series.filter((p) => p.failed);
  const failures = failing.length
    ? `; failures in ${failing.length} of ${series.length} hours, the latest at ${hour(failing.at(-1).start)}`
    : "";
  return `Deliveries per hour from ${hour(since)} to ${hour(until)}: ${sum("succeeded")} succeeded and ${sum("failed")} failed${failures}.`;
}

// One column an hour, oldest first: succeeded at the bottom, failed on top, its figures in its
// title (shown on hover). The whole column takes the pointer, so an empty hour has a title too.
function column(point, index, scale) {
  const size = (n) => (n ? Math.max(LOWEST, n * scale) : 0);
  const x = index * COLUMN + (COLUMN - BAR) / 2;
  const succeeded = size(point.succeeded);
  const failed = size(point.failed);
  return svg("g", { class: "bar" },
    svg("title", {}, `${hour(point.start)}: ${point.succeeded} succeeded, ${point.failed} failed`),
    svg("rect", { class: "slot", x: index * COLUMN, y: 0, width: COLUMN, height: HEIGHT }),
    succeeded ? svg("rect", { class: "succeeded", x, y: HEIGHT - succeeded, width: BAR, height: succeeded }) : null,
    failed ? svg("rect", { class: "failed", x, y: HEIGHT - succeeded - failed, width: BAR, height: failed }) : null);
}

function chart(stats) {
  const { series } = stats;
  const busiest = Math.max(1, ...series.map((p) => p.succeeded + p.failed));
  // Room for the lowest bar on top of a full one.
  const scale = (HEIGHT - LOWEST) / busiest;
  const text = summary(stats);
  return h("figure", { class: "chart" },
    h("figcaption", {}, "Deliveries per hour ",
      h("span", { class: "keys" }, h("span", { class: "key succeeded" }, "succeeded"), " ", h("span", { class: "key failed" }, "failed"))),
    // No text inside: the drawing is stretched, and text would be too.
    svg("svg", { viewBox: `0 0 ${Math.max(1, series.length) * COLUMN} ${HEIGHT}`, preserveAspectRatio: "none",
      role: "img", "aria-label": text },
    svg("title", {}, text),
    series.map((point, index) => column(point, index, scale))),
    h("div", { class: "axis", "aria-hidden": "true" }, h("span", {}, hour(stats.since)), h("span", {}, hour(stats.until))));
}

// The health section of `webhook`'s page; `reload()` shows the page again after Enable again.
export function healthPanel(scope, webhook, reload) {
  const period = h("select", { id: "health-period", name: "period", onchange: () => load() },
    PERIODS.map(([hours, label]) => h("option", { value: hours }, label)));
  // Announced when it changes: the figures for the period just chosen.
  const body = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  // Each load is numbered: an answer for a period no longer chosen is dropped.
  let loads = 0;
  const load = async () => {
    const loading = ++loads;
    const since = new Date(Date.now() - Number(period.value) * HOUR).toISOString();
    try {
      const stats = await api("GET", webhookPath(scope, webhook.id, `/stats?since=${encodeURIComponent(since)}`));
      if (loading === loads) replace(body, figures(stats), chart(stats));
    } catch (err) {
      if (err.status === 401) location.hash = "#/signin";
      // The delivery log below still works without the figures.
      else if (loading === loads) replace(body, h("p", { class: "muted" }, `The figures are unavailable: ${err.message}`));
    }
  };
  load();
  return h("section", { class: "health", "aria-labelledby": "health-title" },
    h("h2", { id: "health-title" }, "Health"),
    disabledNotice(scope, webhook, reload),
    h("div", { class: "filter" }, h("label", { for: "health-period" }, "Period"), period),
    body);
}
