// Decoding the events published on NATS JetStream: protobuf payload + CloudEvents headers.
import { createRegistry, fromBinary, type Message } from "@bufbuild/protobuf";
import { connect, DeliverPolicy, type ConsumerMessages, type NatsConnection } from "nats";

import { file_fooddelivery_delivery_v1_events } from "./gen/fooddelivery/delivery/v1/events_pb.js";
import { file_fooddelivery_notification_v1_events } from "./gen/fooddelivery/notification/v1/events_pb.js";
import { file_fooddelivery_order_v1_events } from "./gen/fooddelivery/order/v1/events_pb.js";
import { file_fooddelivery_payment_v1_events } from "./gen/fooddelivery/payment/v1/events_pb.js";
import { file_fooddelivery_store_v1_events } from "./gen/fooddelivery/store/v1/events_pb.js";

const registry = createRegistry(
  file_fooddelivery_order_v1_events,
  file_fooddelivery_payment_v1_events,
  file_fooddelivery_store_v1_events,
  file_fooddelivery_delivery_v1_events,
  file_fooddelivery_notification_v1_events,
);

/** One event: its CloudEvents attributes and the decoded protobuf message. */
export interface Event {
  /** ce-type = fully qualified message name = NATS subject */
  type: string;
  /** ce-id = EventMetadata.event_id = Nats-Msg-Id */
  id: string;
  /** ce-source, e.g. /fooddelivery/order */
  source: string;
  /** ce-subject = the aggregate id (e.g. the order id) */
  subject: string;
  time: string;
  specversion: string;
  contentType: string;
  message: Message;
}

type Headers = { get(k: string): string } | undefined;

/** Decodes one JetStream message; fields this client does not know are kept, never an error. */
export function decodeEvent(natsSubject: string, data: Uint8Array, headers: Headers): Event {
  const h = (k: string) => headers?.get(k) ?? "";
  const type = h("ce-type") || natsSubject;
  const schema = registry.getMessage(type);
  if (!schema) throw new Error(`unknown event type ${type}`);
  return {
    type,
    id: h("ce-id"),
    source: h("ce-source"),
    subject: h("ce-subject"),
    time: h("ce-time"),
    specversion: h("ce-specversion"),
    contentType: h("content-type"),
    message: fromBinary(schema, data),
  };
}

/** `nats://user:pass@host:port` as connection options (nats.js does not read credentials from a URL). */
export function natsOptions(natsUrl: string): { servers: string; user?: string; pass?: string } {
  const url = new URL(natsUrl);
  if (!url.username) return { servers: natsUrl };
  return {
    servers: `${url.protocol}//${url.host}`,
    user: decodeURIComponent(url.username),
    pass: decodeURIComponent(url.password),
  };
}

/** Events published from the moment it is opened, on one context's subjects. */
export class Subscription {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly messages: ConsumerMessages,
    private readonly it: AsyncIterator<import("nats").JsMsg>,
  ) {}

  /** e.g. `Subscription.open(url, "fooddelivery.order.v1.>")` */
  static async open(natsUrl: string, subject: string): Promise<Subscription> {
    const nc = await connect(natsOptions(natsUrl));
    const stream = await (await nc.jetstreamManager()).streams.find(subject);
    // An ordered consumer: ephemeral, in order, from now on.
    const consumer = await nc.jetstream().consumers.get(stream, { filterSubjects: subject, deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume();
    return new Subscription(nc, messages, messages[Symbol.asyncIterator]());
  }

  /** The next event; rejects if none arrives within `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<Event> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const r = await Promise.race([this.it.next(), timeout]);
      if (r.done) throw new Error("subscription closed");
      return decodeEvent(r.value.subject, r.value.data, r.value.headers);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.messages.close();
    await this.nc.close();
  }
}
