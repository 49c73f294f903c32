// Places an order, cancels it, and prints the events it set off.
//   make run   (in one terminal), then: node clients/typescript/dist/src/example.js
//   (it signs in as the demo customer bob with make run's token issuer)
import { existsSync, readFileSync } from "node:fs";
import { OrderClient, Subscription } from "./index.js";

const orderAddr = process.env.FD_ORDER_ADDR ?? "127.0.0.1:50051";
// NATS lets each service in as itself only; make run writes the admin's URL (with its
// password) to data/nats-admin.url for tools like this one (run from the repository root).
const adminUrl = existsSync("data/nats-admin.url") ? readFileSync("data/nats-admin.url", "utf8").trim() : undefined;
const natsUrl = process.env.NATS_URL ?? adminUrl ?? "nats://127.0.0.1:4222";

const issuer = process.env.FD_ISSUER_URL ?? "http://127.0.0.1:50050";

// Sign in as the demo customer bob (make run's issuer; a real OIDC provider elsewhere).
const resp = await fetch(`${issuer}/token`, {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ grant_type: "password", username: "bob" }),
});
const { access_token: token } = (await resp.json()) as { access_token: string };

const events = await Subscription.open(natsUrl, "fooddelivery.order.v1.>");
const orders = new OrderClient(orderAddr, 5000, token);
const order = await orders.placeOrder({
  customerId: "bob",
  storeId: "store-1",
  items: [{ menuItemId: "pizza", name: "Margherita", quantity: 2, unitPriceMinor: 1250n }],
  deliveryAddress: "1 Main St",
});
console.log(`placed ${order.orderId}: ${Number(order.total?.amountMinor) / 100} ${order.total?.currencyCode}`);
await orders.cancelOrder(order.orderId, "just trying");
for (let seen = 0; seen < 2; ) {
  const e = await events.next(10000);
  if (e.subject !== order.orderId) continue;
  console.log(`${e.time}  ${e.type}  id=${e.id}`);
  seen++;
}
await events.close();
