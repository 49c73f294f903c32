// The order API (fooddelivery.order.v1.OrderService) as plain async calls over gRPC.
import { create } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { randomUUID } from "node:crypto";

import { MoneySchema } from "./gen/fooddelivery/common/v1/common_pb.js";
import { LineItemSchema, OrderService, type Order } from "./gen/fooddelivery/order/v1/order_pb.js";
import { ServiceError } from "./errors.js";

/** One line of an order: a menu item, how many, and the price of one in minor units. */
export interface Item {
  menuItemId: string;
  name: string;
  quantity: number;
  unitPriceMinor: bigint;
}

export interface PlaceOrder {
  customerId: string;
  storeId: string;
  items: Item[];
  deliveryAddress: string;
  currency?: string;
  /** Retrying with the same key returns the first order and charges once. */
  idempotencyKey?: string;
}

/** Places, reads, lists, watches and cancels orders. Every failure is a ServiceError. */
export class OrderClient {
  private readonly client: Client<typeof OrderService>;

  /**
   * `address` is host:port of the order service, e.g. 127.0.0.1:50051; `token` the caller's
   * access token (an OIDC JWT), sent as `authorization: Bearer <token>` with every call — the
   * services refuse calls without one.
   */
  constructor(
    address: string,
    private readonly timeoutMs = 5000,
    token?: string,
  ) {
    const transport = createGrpcTransport({
      baseUrl: `http://${address}`,
      interceptors: token
        ? [
            (next) => async (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ]
        : [],
    });
    this.client = createClient(OrderService, transport);
  }

  private async call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw ServiceError.from(err);
    }
  }

  async placeOrder(req: PlaceOrder): Promise<Order> {
    const currency = req.currency ?? "EUR";
    const res = await this.call(() =>
      this.client.placeOrder(
        {
          idempotencyKey: req.idempotencyKey ?? randomUUID(),
          customerId: req.customerId,
          storeId: req.storeId,
          deliveryAddress: req.deliveryAddress,
          items: req.items.map((i) =>
            create(LineItemSchema, {
              menuItemId: i.menuItemId,
              name: i.name,
              quantity: i.quantity,
              unitPrice: create(MoneySchema, { amountMinor: i.unitPriceMinor, currencyCode: currency }),
            }),
          ),
        },
        { timeoutMs: this.timeoutMs },
      ),
    );
    return required(res.order);
  }

  async getOrder(orderId: string): Promise<Order> {
    return required((await this.call(() => this.client.getOrder({ orderId }, { timeoutMs: this.timeoutMs }))).order);
  }

  async cancelOrder(orderId: string, reason = ""): Promise<Order> {
    return required((await this.call(() => this.client.cancelOrder({ orderId, reason }, { timeoutMs: this.timeoutMs }))).order);
  }

  /** Every order of a customer, newest first, a page at a time. */
  async *listOrders(customerId: string, pageSize = 50): AsyncGenerator<Order> {
    let pageToken = "";
    do {
      const page = await this.call(() => this.client.listOrders({ customerId, pageSize, pageToken }, { timeoutMs: this.timeoutMs }));
      yield* page.orders;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /** The order now, then after each change, until it is delivered or cancelled. */
  async *watchOrder(orderId: string): AsyncGenerator<Order> {
    try {
      for await (const update of this.client.watchOrder({ orderId })) yield required(update.order);
    } catch (err) {
      throw ServiceError.from(err);
    }
  }
}

function required(order: Order | undefined): Order {
  if (!order) throw new Error("the service answered without an order");
  return order;
}
