// The web app's numbers (make bench): how long after the owner's click the customer's page
// shows the change (p50/p99 over RUNS orders), and each role's page weight and first render.
// Runs against the system behind the gateway (fdctl with-system --web-dir web/dist sets
// FD_GATEWAY_URL), in Debian's headless Chromium. Writes JSON to $OUT if set.
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";

const base = process.env.FD_GATEWAY_URL;
if (!base) throw new Error("FD_GATEWAY_URL is not set: run with fdctl with-system --web-dir web/dist");
const runs = Number(process.env.RUNS ?? 50);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});

async function token(user) {
  const r = await fetch(`${base}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username: user }),
  });
  const b = await r.json();
  const claims = JSON.parse(Buffer.from(b.access_token.split(".")[1], "base64url").toString());
  return { token: b.access_token, user: claims.sub, roles: claims.roles ?? [] };
}

/** A page signed in as `user` (the session put where the app keeps it). */
async function as(user) {
  const session = await token(user);
  const context = await browser.newContext();
  await context.addInitScript((s) => sessionStorage.setItem("fd-session", s), JSON.stringify(session));
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

// Page weight and first render of each role's page: bytes over the wire for everything the
// page loads, first contentful paint, and when its main content is there.
const pages = [];
for (const [role, user, ready] of [
  ["customer", "ada", "Luigi's Pizzeria"],
  ["owner", "olga", "Tickets of Luigi's Pizzeria"],
  ["rider", "rita", "Deliveries"],
]) {
  const page = await as(user);
  const t0 = Date.now();
  await page.goto(base);
  await page.getByText(ready).first().waitFor();
  const shown = Date.now() - t0;
  // Bytes over the wire (compressed where the server compressed): the page, its files and
  // the calls it made until its content was there.
  const [fcp, bytes, raw] = await page.evaluate(() => {
    const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
    return [
      performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
      entries.reduce((n, e) => n + (e.transferSize ?? 0), 0),
      entries.reduce((n, e) => n + (e.decodedBodySize ?? 0), 0),
    ];
  });
  pages.push({ role, bytes, decoded_bytes: raw, fcp_ms: Math.round(fcp), content_ms: shown });
  await page.context().close();
}

// The owner accepts; the customer's page (following its order with WatchOrder) changes.
const customer = await as("ada");
const owner = await as("olga");
await customer.goto(base);
await owner.goto(base);
await customer.getByRole("button", { name: "Luigi's Pizzeria" }).click();
await customer.getByRole("button", { name: "Add Cola" }).waitFor();
// The customer's page notes when each order's status first reads ACCEPTED.
await customer.evaluate(() => {
  window.__accepted = {};
  new MutationObserver(() => {
    for (const el of document.querySelectorAll("[data-order] [role=status]")) {
      const id = el.closest("[data-order]").getAttribute("data-order");
      if (el.textContent.includes("ACCEPTED") && !window.__accepted[id]) window.__accepted[id] = Date.now();
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
});
const latencies = [];
for (let i = 0; i < runs; i++) {
  await customer.getByRole("button", { name: "Add Cola" }).click();
  await customer.getByRole("button", { name: "Place order" }).click();
  const status = customer.getByRole("list", { name: "Your orders" }).getByRole("status").first();
  await status.filter({ hasText: "PLACED" }).waitFor();
  const short = /Order (\w{8})/.exec(await status.textContent())[1];
  const accept = owner.getByRole("button", { name: `Accept ${short}` });
  await accept.waitFor();
  const clicked = Date.now();
  await accept.click();
  const li = customer.locator(`[data-order^="${short}"]`);
  try {
    await li.getByRole("status").filter({ hasText: "ACCEPTED" }).waitFor();
  } catch (e) {
    await customer.screenshot({ path: "/tmp/bench-customer.png" });
    await owner.screenshot({ path: "/tmp/bench-owner.png" });
    throw e;
  }
  const id = await li.getAttribute("data-order");
  const seen = await customer.evaluate((id) => window.__accepted[id], id);
  latencies.push(seen - clicked);
}
await browser.close();

const result = {
  runs,
  click_to_customer_page_ms: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: Math.max(...latencies) },
  pages,
};
console.log(`web: owner's Accept click → customer's page shows ACCEPTED, ${runs} runs: p50 ${result.click_to_customer_page_ms.p50} ms, p99 ${result.click_to_customer_page_ms.p99} ms`);
for (const p of pages) console.log(`web: ${p.role} page ${(p.bytes / 1024).toFixed(1)} KiB over the wire (${(p.decoded_bytes / 1024).toFixed(1)} KiB decoded), first contentful paint ${p.fcp_ms} ms, content shown ${p.content_ms} ms`);
if (process.env.OUT) writeFileSync(process.env.OUT, JSON.stringify(result, null, 2));
