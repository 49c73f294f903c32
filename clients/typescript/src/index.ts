export { OrderClient, type Item, type PlaceOrder } from "./orders.js";
export { ServiceError, type FieldViolation } from "./errors.js";
export { Subscription, decodeEvent, type Event } from "./events.js";
