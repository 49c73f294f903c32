// The whole story in a real browser (Debian's headless Chromium, driven by playwright-core):
// a customer, a store owner and a rider, each in their own browser context, against the
// running system behind the gateway (`fdctl with-system --web-dir web/dist`, which sets
// FD_GATEWAY_URL; make test-web). Elements are found by role and accessible name, as a user
// of assistive technology would find them.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const base = process.env.FD_GATEWAY_URL;
if (!base) throw new Error("FD_GATEWAY_URL is not set: run with fdctl with-system --web-dir web/dist (make test-web)");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
});
after(async () => {
  await browser?.close();
});

/** A browser context signed in as `user`. */
async function as(user) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(base);
  await page.getByLabel("User name").fill(user);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText(`Signed in as ${user}`).waitFor();
  return page;
}

/** The short ids (first 8 characters) of the orders the customer's page lists. */
async function listed(customer) {
  const texts = await customer.getByRole("list", { name: "Your orders" }).getByRole("status").allTextContents();
  return texts.map((t) => /Order (\w{8})/.exec(t)?.[1]).filter(Boolean);
}

/** Clicks Place order and returns the short id of the order that appears. */
async function place(customer) {
  const before = new Set(await listed(customer));
  await customer.getByRole("button", { name: "Place order" }).click();
  for (let i = 0; i < 200; i++) {
    const fresh = (await listed(customer)).find((id) => !before.has(id));
    if (fresh) return fresh;
    await customer.waitForTimeout(50);
  }
  throw new Error(`no new order appeared; the alert says: ${await customer.getByRole("alert").textContent()}`);
}

async function placeFrom(customer, store, items) {
  await customer.getByRole("button", { name: store }).click();
  for (const item of items) await customer.getByRole("button", { name: `Add ${item}` }).click();
  return place(customer);
}

test("an order from the customer's click to DELIVERED, live on every page", async () => {
  const customer = await as("ada");
  const owner = await as("olga");
  const rider = await as("rita");
  const otherRider = await as("rider-7");

  const order = await placeFrom(customer, "Luigi's Pizzeria", ["Margherita"]);
  const mine = customer.getByRole("status", { name: `Order ${order}` });
  await assert.doesNotReject(mine.filter({ hasText: "PLACED" }).waitFor());

  // The owner's board shows the ticket without a reload; accept and cook.
  const ticket = owner.getByRole("status", { name: `Ticket ${order}` });
  await ticket.filter({ hasText: "NEW" }).waitFor();
  await owner.getByRole("button", { name: `Accept ${order}` }).click();
  await ticket.filter({ hasText: "ACCEPTED" }).waitFor();
  await mine.filter({ hasText: "ACCEPTED" }).waitFor();
  await owner.getByRole("button", { name: `Finish cooking ${order}` }).click();
  await ticket.filter({ hasText: "COOKING_FINISHED" }).waitFor();

  // The rider sees it waiting, picks it up and delivers it.
  const delivery = rider.getByRole("status", { name: `Delivery ${order}` });
  await delivery.filter({ hasText: "WAITING_FOR_PICKUP" }).waitFor();
  // Another rider saw it too, but their page stops refreshing (its list calls fail)...
  await otherRider.getByRole("button", { name: `Pick up ${order}` }).waitFor();
  await otherRider.route("**/fooddelivery.delivery.v1.DeliveryService/ListDeliveries", (r) => r.abort());
  await rider.getByRole("button", { name: `Pick up ${order}` }).click();
  await delivery.filter({ hasText: "IN_TRANSIT" }).waitFor();
  // ...so they try to take it too late: not theirs any more, and the page says whose it is.
  await otherRider.getByRole("button", { name: `Pick up ${order}` }).click();
  await otherRider.getByRole("alert").filter({ hasText: "rita" }).waitFor();
  await otherRider.context().close();
  await mine.filter({ hasText: "OUT_FOR_DELIVERY" }).waitFor();
  await rider.getByRole("button", { name: `Complete ${order}` }).click();

  // The customer's page changes on its own (WatchOrder over gRPC-Web).
  await mine.filter({ hasText: "DELIVERED" }).waitFor();
  await customer.getByRole("list", { name: "Notifications" }).getByRole("listitem").first().waitFor();
  if (process.env.SCREENSHOTS) {
    for (const [role, p] of [["customer", customer], ["owner", owner], ["rider", rider]]) {
      await p.setViewportSize({ width: 1000, height: 760 });
      await p.screenshot({ path: `${process.env.SCREENSHOTS}/web-${role}.png`, fullPage: false });
    }
  }
  for (const p of [customer, owner, rider]) await p.context().close();
});

test("a cancelled order shows its refund; refusals show the service's reason", async () => {
  const customer = await as("bea");
  const order = await placeFrom(customer, "Luigi's Pizzeria", ["Margherita"]);
  await customer.getByRole("button", { name: `Cancel order ${order}` }).click();
  const mine = customer.getByRole("status", { name: `Order ${order}` });
  await mine.filter({ hasText: "CANCELLED" }).waitFor();
  await mine.filter({ hasText: "payment refunded" }).waitFor();

  // A closed store refuses the order: the page says why.
  await customer.getByRole("button", { name: "Green Bowl (closed)" }).click();
  const add = customer.getByRole("list", { name: "Menu of Green Bowl" }).getByRole("button").first();
  await add.click();
  await customer.getByRole("button", { name: "Place order" }).click();
  const alert = customer.getByRole("alert");
  await alert.filter({ hasText: /closed/i }).waitFor();

  // A declined payment: nothing is ordered, and the page says so.
  await customer.getByRole("button", { name: "Luigi's Pizzeria" }).click();
  await customer.getByRole("button", { name: "Add Caviar" }).click();
  await customer.getByRole("button", { name: "Place order" }).click();
  await alert.filter({ hasText: /declined/i }).waitFor();

  // The owner rejects with a reason: the customer sees the order cancelled and refunded.
  const olga = await as("olga");
  await customer.getByRole("button", { name: "Remove Caviar" }).click(); // the cart kept it
  await customer.getByRole("button", { name: "Add Margherita" }).click();
  const rejected = await place(customer);
  await olga.getByLabel(`Reason to reject ${rejected}`).fill("the oven is broken");
  await olga.getByRole("button", { name: `Reject ${rejected}` }).click();
  await olga.getByRole("status", { name: `Ticket ${rejected}` }).filter({ hasText: "the oven is broken" }).waitFor();
  const gone = customer.getByRole("status", { name: `Order ${rejected}` });
  await gone.filter({ hasText: "CANCELLED" }).filter({ hasText: "payment refunded" }).waitFor();
  await olga.context().close();

  // Each owner sees the board of their own store.
  const owner = await as("kenji");
  await owner.getByText("Tickets of Sakura Sushi").waitFor();
  await owner.context().close();
  await customer.context().close();
});

test("the gateway refuses calls without a token, as the services would", async () => {
  const resp = await fetch(`${base}/fooddelivery.order.v1.OrderService/ListOrders`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: new Uint8Array([0, 0, 0, 0, 0]),
  });
  assert.equal(resp.status, 200);
  assert.equal(resp.headers.get("grpc-status"), "16", "UNAUTHENTICATED");
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, "SERVING");
});

test("an owner's new price refuses carts priced before it, with the reason", async () => {
  const customer = await as("cid");
  const owner = await as("olga");
  // The customer's menu is read now, at the old price.
  await customer.getByRole("button", { name: "Luigi's Pizzeria" }).click();
  await customer.getByRole("button", { name: "Add Margherita" }).waitFor();
  const price = owner.getByLabel("Price of Margherita (EUR)");
  const old = await price.inputValue();
  await price.fill("13.75");
  await owner.getByRole("button", { name: "Save Margherita" }).click();
  await owner.getByLabel("Price of Margherita (EUR)").and(owner.locator('[value="13.75"]')).waitFor();
  // Until order has heard of the new price (milliseconds), a cart may still go through at the
  // old one; after that the order is refused and the page says why.
  const alert = customer.getByRole("alert");
  let refused = false;
  for (let i = 0; i < 20 && !refused; i++) {
    await customer.getByRole("button", { name: "Add Margherita" }).click();
    await customer.getByRole("button", { name: "Place order" }).click();
    refused = await alert
      .filter({ hasText: "13.75" })
      .waitFor({ timeout: 1000 })
      .then(() => true, () => false);
  }
  assert.ok(refused, `no refusal; the alert says ${await alert.textContent()}`);
  // Back to the old price for the others.
  await owner.getByLabel("Price of Margherita (EUR)").fill(old);
  await owner.getByRole("button", { name: "Save Margherita" }).click();
  await owner.getByLabel("Price of Margherita (EUR)").and(owner.locator(`[value="${old}"]`)).waitFor();
  await customer.context().close();
  await owner.context().close();
});

test("a customer with many orders under way still sees each change", async () => {
  // Each WatchOrder stream holds one of the six HTTP/1.1 connections a browser opens per
  // site: the page follows one order live and refreshes the others, so it never stalls.
  const customer = await as("dan");
  const owner = await as("olga");
  const placed = [];
  for (let i = 0; i < 8; i++) placed.push(await placeFrom(customer, "Luigi's Pizzeria", ["Cola"]));
  for (const order of [placed[0], placed[7]]) {
    await owner.getByRole("button", { name: `Accept ${order}` }).click();
    await customer.getByRole("status", { name: `Order ${order}` }).filter({ hasText: "ACCEPTED" }).waitFor();
  }
  await customer.context().close();
  await owner.context().close();
});
