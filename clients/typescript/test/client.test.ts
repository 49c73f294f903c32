// The TypeScript client against the running system (started by `fdctl with-system`, see make test-clients).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { isMessage } from "@bufbuild/protobuf";

import { OrderClient, ServiceError, Subscription, type Item } from "../src/index.js";
import { OrderState } from "../src/gen/fooddelivery/order/v1/order_pb.js";
import { CancelledBy, OrderCancelledSchema, OrderPlacedSchema } from "../src/gen/fooddelivery/order/v1/events_pb.js";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with fdctl with-system (make test-clients)`);
  return v;
}

const items: Item[] = [
  { menuItemId: "pizza", name: "Margherita", quantity: 2, unitPriceMinor: 1250n },
  { menuItemId: "cola", name: "Cola", quantity: 1, unitPriceMinor: 400n },
];
const customer = () => `ts-${randomUUID().slice(0, 8)}`;

/** A token from the system's issuer (FD_ISSUER_URL), as a sign-in would give one. */
async function tokenFor(user: string): Promise<string> {
  const resp = await fetch(`${env("FD_ISSUER_URL")}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username: user, role: "customer" }),
  });
  const body = (await resp.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token for ${user}: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** An order client for a fresh customer. */
async function signedIn(): Promise<{ orders: OrderClient; who: string }> {
  const who = customer();
  return { orders: new OrderClient(env("FD_ORDER_ADDR"), 5000, await tokenFor(who)), who };
}

test("place, get, list and cancel an order", async () => {
  const { orders, who } = await signedIn();
  const placed = await orders.placeOrder({ customerId: who, storeId: "store-1", items, deliveryAddress: "1 Main St" });
  assert.ok(placed.orderId);
  assert.equal(placed.state, OrderState.PLACED);
  assert.equal(placed.total?.amountMinor, 2900n);
  assert.equal(placed.total?.currencyCode, "EUR");
  assert.ok(placed.paymentId, "paid before it existed");

  const got = await orders.getOrder(placed.orderId);
  assert.equal(got.orderId, placed.orderId);
  assert.deepEqual(got.items.map((i) => i.menuItemId), ["pizza", "cola"]);
  const listed: string[] = [];
  for await (const o of orders.listOrders(who)) listed.push(o.orderId);
  assert.deepEqual(listed, [placed.orderId]);

  const cancelled = await orders.cancelOrder(placed.orderId, "changed my mind");
  assert.equal(cancelled.state, OrderState.CANCELLED);
  assert.equal(cancelled.cancelReason, "changed my mind");
  assert.equal((await orders.cancelOrder(placed.orderId)).state, OrderState.CANCELLED);
});

test("a retry with the same key returns the same order", async () => {
  const { orders, who } = await signedIn();
  const req = { customerId: who, storeId: "store-1", items, deliveryAddress: "x", idempotencyKey: randomUUID() };
  const first = await orders.placeOrder(req);
  const again = await orders.placeOrder(req);
  assert.equal(again.orderId, first.orderId);
  assert.equal(again.paymentId, first.paymentId);
});

test("bad input names each bad field", async () => {
  const { orders } = await signedIn();
  await assert.rejects(
    orders.placeOrder({ customerId: "", storeId: "store-1", items: [{ ...items[0], quantity: 0 }], deliveryAddress: "x" }),
    (err: unknown) => {
      assert.ok(err instanceof ServiceError);
      assert.equal(err.code, Code.InvalidArgument);
      const fields = err.fieldViolations.map((v) => v.field);
      assert.ok(fields.includes("customer_id") && fields.includes("items[0].quantity"), fields.join(","));
      return true;
    },
  );
  await assert.rejects(orders.getOrder(randomUUID()), (err: unknown) => err instanceof ServiceError && err.code === Code.NotFound);
});

test("events decode with their CloudEvents headers", async () => {
  const { orders, who } = await signedIn();
  const events = await Subscription.open(env("NATS_URL"), "fooddelivery.order.v1.>");
  try {
    const placed = await orders.placeOrder({ customerId: who, storeId: "store-1", items, deliveryAddress: "2 Side St" });
    await orders.cancelOrder(placed.orderId, "test");
    const seen = new Map<string, Awaited<ReturnType<Subscription["next"]>>>();
    while (seen.size < 2) {
      const e = await events.next(10000);
      if (e.subject === placed.orderId) seen.set(e.type, e);
    }
    const p = seen.get("fooddelivery.order.v1.OrderPlaced");
    const c = seen.get("fooddelivery.order.v1.OrderCancelled");
    assert.ok(p && c);
    for (const e of [p, c]) {
      assert.equal(e.specversion, "1.0");
      assert.equal(e.source, "/fooddelivery/order");
      assert.equal(e.contentType, "application/protobuf");
      assert.ok(e.time);
    }
    assert.ok(isMessage(p.message, OrderPlacedSchema));
    assert.equal(p.id, p.message.metadata?.eventId);
    assert.equal(p.message.metadata?.aggregateId, placed.orderId);
    assert.equal(p.message.customerId, placed.customerId);
    assert.equal(p.message.total?.amountMinor, 2900n);
    assert.equal(p.message.paymentId, placed.paymentId);
    assert.ok(isMessage(c.message, OrderCancelledSchema));
    assert.equal(c.id, c.message.metadata?.eventId);
    assert.equal(c.message.reason, "test");
    assert.equal(c.message.cancelledBy, CancelledBy.CUSTOMER);
  } finally {
    await events.close();
  }
});

test("without a token nothing is answered", async () => {
  const anonymous = new OrderClient(env("FD_ORDER_ADDR"));
  await assert.rejects(anonymous.getOrder(randomUUID()), (err: unknown) => err instanceof ServiceError && err.code === Code.Unauthenticated);
});
