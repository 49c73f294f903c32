// The food-delivery web app: customers order and watch their orders live, store owners run a
// board of tickets, riders take and deliver orders. Every call is gRPC-Web through the gateway
// (same origin), with the signed-in user's token; the client code is generated from proto/.
import { createClient, ConnectError, Code, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { CatalogService } from "./gen/fooddelivery/store/v1/catalog_pb.js";
import { StoreService, TicketState, type StoreOrder, type MenuItem, type Store } from "./gen/fooddelivery/store/v1/store_pb.js";
import { OrderService, OrderState, PaymentStatus, type Order } from "./gen/fooddelivery/order/v1/order_pb.js";
import { DeliveryService, DeliveryState, type Delivery } from "./gen/fooddelivery/delivery/v1/delivery_pb.js";
import { NotificationService } from "./gen/fooddelivery/notification/v1/notification_pb.js";

// ---- session -------------------------------------------------------------------------------

interface Session {
  token: string;
  user: string;
  roles: string[];
}

function loadSession(): Session | null {
  const raw = sessionStorage.getItem("fd-session");
  return raw ? (JSON.parse(raw) as Session) : null;
}

async function signIn(user: string): Promise<Session> {
  const resp = await fetch("/auth/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username: user }),
  });
  const body = (await resp.json().catch(() => ({}))) as { access_token?: string; error_description?: string };
  if (!resp.ok || !body.access_token) {
    throw new Error(body.error_description ?? `sign-in refused (${resp.status})`);
  }
  const claims = JSON.parse(atob(body.access_token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as {
    sub: string;
    roles?: string[];
  };
  const session = { token: body.access_token, user: claims.sub, roles: claims.roles ?? [] };
  sessionStorage.setItem("fd-session", JSON.stringify(session));
  return session;
}

// ---- clients -------------------------------------------------------------------------------

const withToken: Interceptor = (next) => async (req) => {
  const s = loadSession();
  if (s) req.header.set("authorization", `Bearer ${s.token}`);
  return next(req);
};
const transport = createGrpcWebTransport({ baseUrl: location.origin, interceptors: [withToken] });
const catalog = createClient(CatalogService, transport);
const stores = createClient(StoreService, transport);
const orders = createClient(OrderService, transport);
const deliveries: Client<typeof DeliveryService> = createClient(DeliveryService, transport);
const notifications = createClient(NotificationService, transport);

// ---- page helpers --------------------------------------------------------------------------

const app = document.getElementById("app")!;
const alertBox = document.getElementById("error")!;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

function button(label: string, onClick: () => Promise<void> | void, attrs: Record<string, string> = {}): HTMLButtonElement {
  const b = h("button", { type: "button", ...attrs }, label);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (e) {
      showError(e);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** Every refusal the services give, in words a user understands (the services' own message). */
function showError(e: unknown): void {
  let text: string;
  if (e instanceof ConnectError) {
    const what: Partial<Record<Code, string>> = {
      [Code.FailedPrecondition]: "Not possible now",
      [Code.PermissionDenied]: "Not yours",
      [Code.Unauthenticated]: "Please sign in again",
      [Code.InvalidArgument]: "Please check the form",
      [Code.NotFound]: "Not found",
      [Code.ResourceExhausted]: "Too many requests",
      [Code.Unavailable]: "Temporarily unavailable",
      [Code.Aborted]: "Changed meanwhile",
    };
    text = `${what[e.code] ?? "Refused"}: ${e.rawMessage}`;
  } else {
    text = e instanceof Error ? e.message : String(e);
  }
  alertBox.textContent = text;
}

function clearError(): void {
  alertBox.textContent = "";
}

const money = (minor: bigint | undefined, currency = "EUR") =>
  `${(Number(minor ?? 0n) / 100).toFixed(2)} ${currency}`;

const orderStateName = (s: OrderState) => OrderState[s] ?? String(s);
const ticketStateName = (s: TicketState) => TicketState[s] ?? String(s);
const deliveryStateName = (s: DeliveryState) => DeliveryState[s] ?? String(s);

/** Calls `fn` now and every `ms` until the page changes view. */
let timers: number[] = [];
let streams: AbortController[] = [];
function every(ms: number, fn: () => Promise<void>): void {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      await fn();
    } catch (e) {
      showError(e);
    } finally {
      busy = false;
    }
  };
  void tick();
  timers.push(window.setInterval(tick, ms));
}

function resetView(): void {
  timers.forEach((t) => clearInterval(t));
  streams.forEach((s) => s.abort());
  timers = [];
  streams = [];
  app.replaceChildren();
  clearError();
}

// ---- sign-in -------------------------------------------------------------------------------

function signInView(): void {
  resetView();
  document.getElementById("who")!.replaceChildren();
  const name = h("input", { id: "user", name: "user", autocomplete: "username", required: "" });
  const form = h(
    "form",
    { "aria-labelledby": "signin-title" },
    h("h2", { id: "signin-title" }, "Sign in"),
    h("p", {}, "Demo users: ada (customer), olga (store owner), rita (rider)."),
    h("label", { for: "user" }, "User name"),
    name,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      route(await signIn(name.value.trim()));
    } catch (e) {
      showError(e);
    }
  });
  app.append(form);
}

function route(s: Session): void {
  const who = document.getElementById("who")!;
  who.replaceChildren(
    h("span", {}, `Signed in as ${s.user} (${s.roles.join(", ")})`),
    button("Sign out", () => {
      sessionStorage.removeItem("fd-session");
      signInView();
    }),
  );
  if (s.roles.includes("owner")) ownerView(s);
  else if (s.roles.includes("rider")) riderView(s);
  else customerView(s);
}

// ---- customer ------------------------------------------------------------------------------

interface CartLine {
  item: MenuItem;
  quantity: number;
}

function customerView(s: Session): void {
  resetView();
  let cart: CartLine[] = [];
  let cartStore: Store | undefined;
  const storeList = h("ul", { "aria-label": "Stores" });
  const menu = h("section", { "aria-labelledby": "menu-title" }, h("h2", { id: "menu-title" }, "Menu"));
  const cartList = h("ul", { "aria-label": "Cart" });
  const total = h("p", { id: "cart-total" });
  const address = h("input", { id: "address", name: "address", value: "1 Main Street", autocomplete: "street-address" });
  const orderList = h("ul", { "aria-label": "Your orders" });
  const notes = h("ul", { "aria-label": "Notifications" });

  const renderCart = () => {
    cartList.replaceChildren(
      ...cart.map((l) => h("li", {}, `${l.quantity} × ${l.item.name}`, " ", button(`Remove ${l.item.name}`, () => {
        cart = cart.filter((x) => x !== l);
        renderCart();
      }))),
    );
    const sum = cart.reduce((acc, l) => acc + (l.item.price?.amountMinor ?? 0n) * BigInt(l.quantity), 0n);
    total.textContent = cart.length ? `Total ${money(sum, cartStore?.currencyCode)}` : "The cart is empty.";
  };

  const showMenu = async (store: Store) => {
    const { items } = await catalog.listMenuItems({ storeId: store.storeId, pageSize: 100 });
    menu.replaceChildren(
      h("h2", { id: "menu-title" }, `Menu of ${store.name}${store.open ? "" : " (closed)"}`),
      h(
        "ul",
        { "aria-label": `Menu of ${store.name}` },
        ...items.map((item) =>
          h(
            "li",
            {},
            `${item.name} — ${money(item.price?.amountMinor, item.price?.currencyCode)}${item.available ? "" : " (sold out)"} `,
            button(`Add ${item.name}`, () => {
              if (cartStore && cartStore.storeId !== store.storeId) cart = [];
              cartStore = store;
              const line = cart.find((l) => l.item.menuItemId === item.menuItemId);
              if (line) line.quantity += 1;
              else cart.push({ item, quantity: 1 });
              renderCart();
            }),
          ),
        ),
      ),
    );
  };

  const renderOrders = async () => {
    const { orders: mine } = await orders.listOrders({ customerId: s.user, pageSize: 20 });
    orderList.replaceChildren(...mine.map((o) => orderItem(o)));
    const { notifications: ns } = await notifications.listNotifications({ customerId: s.user, pageSize: 20 });
    notes.replaceChildren(...ns.map((n) => h("li", {}, n.message)));
  };

  const orderItem = (o: Order) => {
    const refund = o.paymentStatus === PaymentStatus.REFUNDED ? " — payment refunded" : "";
    const li = h(
      "li",
      { "data-order": o.orderId },
      h("span", { role: "status", "aria-label": `Order ${o.orderId.slice(0, 8)}` }, `Order ${o.orderId.slice(0, 8)}: ${orderStateName(o.state)}${refund}`),
      ` ${money(o.total?.amountMinor, o.total?.currencyCode)} `,
    );
    if (o.state === OrderState.PLACED || o.state === OrderState.ACCEPTED) {
      li.append(button(`Cancel order ${o.orderId.slice(0, 8)}`, async () => {
        clearError();
        await orders.cancelOrder({ orderId: o.orderId, reason: "changed my mind" });
      }));
    }
    return li;
  };

  /** Follows one order as it changes (WatchOrder, server streaming over gRPC-Web): the
   * newest one under way. One stream at a time: over HTTP/1.1 each holds a connection, and a
   * browser opens at most six per site; the other orders refresh every few seconds. */
  let watching: AbortController | undefined;
  const watch = async (orderId: string) => {
    watching?.abort();
    const ctl = new AbortController();
    watching = ctl;
    streams.push(ctl);
    try {
      for await (const change of orders.watchOrder({ orderId }, { signal: ctl.signal })) {
        if (change.order) await renderOrders();
      }
    } catch (e) {
      if (!ctl.signal.aborted) showError(e);
    }
  };

  const place = h("button", { type: "submit" }, "Place order");
  const form = h(
    "form",
    { "aria-labelledby": "cart-title" },
    h("h2", { id: "cart-title" }, "Cart"),
    cartList,
    total,
    h("label", { for: "address" }, "Delivery address"),
    address,
    place,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError();
    if (!cartStore || cart.length === 0) {
      showError(new Error("The cart is empty: add something from a menu first."));
      return;
    }
    place.disabled = true;
    try {
      const { order } = await orders.placeOrder({
        idempotencyKey: crypto.randomUUID(),
        customerId: s.user,
        storeId: cartStore.storeId,
        items: cart.map((l) => ({
          menuItemId: l.item.menuItemId,
          name: l.item.name,
          quantity: l.quantity,
          unitPrice: l.item.price,
        })),
        deliveryAddress: address.value,
      });
      cart = [];
      renderCart();
      await renderOrders();
      if (order) void watch(order.orderId);
    } catch (e) {
      showError(e);
    } finally {
      place.disabled = false;
    }
  });

  app.append(
    h("section", { "aria-labelledby": "stores-title" }, h("h2", { id: "stores-title" }, "Stores"), storeList),
    menu,
    form,
    h("section", { "aria-labelledby": "orders-title" }, h("h2", { id: "orders-title" }, "Your orders"), orderList),
    h("section", { "aria-labelledby": "notes-title" }, h("h2", { id: "notes-title" }, "Notifications"), notes),
  );
  renderCart();
  void (async () => {
    try {
      const { stores: all } = await catalog.listStores({ pageSize: 50 });
      storeList.replaceChildren(
        ...all.map((st) => h("li", {}, button(`${st.name}${st.open ? "" : " (closed)"}`, () => showMenu(st)))),
      );
      await renderOrders();
      // Orders still under way are watched live; the list also refreshes now and then.
      const { orders: mine } = await orders.listOrders({ customerId: s.user, pageSize: 20 });
      const live = mine.find((o) => o.state !== OrderState.DELIVERED && o.state !== OrderState.CANCELLED);
      if (live) void watch(live.orderId);
      every(5000, renderOrders);
    } catch (e) {
      showError(e);
    }
  })();
}

// ---- store owner ---------------------------------------------------------------------------

function ownerView(s: Session): void {
  resetView();
  const board = h("ul", { "aria-label": "Tickets" });
  const title = h("h2", { id: "board-title" }, "Tickets");
  app.append(h("section", { "aria-labelledby": "board-title" }, title, board));
  void (async () => {
    const { stores: all } = await catalog.listStores({ pageSize: 100 });
    const mine = all.filter((st) => st.ownerId === s.user);
    const store = mine[0];
    if (!store) {
      showError(new Error("You own no store yet."));
      return;
    }
    title.textContent = `Tickets of ${store.name}`;
    every(1000, async () => {
      const { orders: tickets } = await stores.listStoreOrders({ storeId: store.storeId, pageSize: 50 });
      board.replaceChildren(...tickets.map(ticketItem));
    });
    app.append(menuEditor(store));
  })().catch(showError);

  /** The owner's menu: prices and availability of each item, and new items. */
  function menuEditor(store: Store): HTMLElement {
    const list = h("ul", { "aria-label": `Menu of ${store.name}` });
    const currency = store.currencyCode || "EUR";
    const toMinor = (text: string) => BigInt(Math.round(Number(text.replace(",", ".")) * 100));
    const refresh = async () => {
      const { items } = await catalog.listMenuItems({ storeId: store.storeId, pageSize: 100 });
      list.replaceChildren(
        ...items.map((item) => {
          const id = `price-${item.menuItemId}`;
          const price = h("input", { id, inputmode: "decimal", value: (Number(item.price?.amountMinor ?? 0n) / 100).toFixed(2) });
          const availId = `available-${item.menuItemId}`;
          const available = h("input", { id: availId, type: "checkbox" });
          available.checked = item.available;
          return h(
            "li",
            {},
            h("label", { for: id }, `Price of ${item.name} (${currency})`),
            price,
            available,
            h("label", { for: availId }, `${item.name} available`),
            button(`Save ${item.name}`, async () => {
              clearError();
              await stores.updateMenuItem({
                storeId: store.storeId,
                menuItemId: item.menuItemId,
                price: { amountMinor: toMinor(price.value), currencyCode: currency },
                available: available.checked,
              });
              await refresh();
            }),
          );
        }),
      );
    };
    const newId = h("input", { id: "new-item-id" });
    const newName = h("input", { id: "new-item-name" });
    const newPrice = h("input", { id: "new-item-price", inputmode: "decimal" });
    const add = h(
      "form",
      { "aria-label": "New menu item" },
      h("label", { for: "new-item-id" }, "New item id"),
      newId,
      h("label", { for: "new-item-name" }, "New item name"),
      newName,
      h("label", { for: "new-item-price" }, `New item price (${currency})`),
      newPrice,
      h("button", { type: "submit" }, "Add item"),
    );
    add.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearError();
      try {
        await stores.createMenuItem({
          storeId: store.storeId,
          menuItemId: newId.value.trim(),
          name: newName.value.trim(),
          description: "",
          price: { amountMinor: toMinor(newPrice.value), currencyCode: currency },
          available: true,
        });
        add.reset();
        await refresh();
      } catch (e) {
        showError(e);
      }
    });
    void refresh().catch(showError);
    return h("section", { "aria-labelledby": "menu-edit-title" }, h("h2", { id: "menu-edit-title" }, `Menu of ${store.name}`), list, add);
  }

  const ticketItem = (t: StoreOrder) => {
    const short = t.orderId.slice(0, 8);
    const li = h(
      "li",
      { "data-order": t.orderId },
      h("span", { role: "status", "aria-label": `Ticket ${short}` }, `Ticket ${short}: ${ticketStateName(t.state)}${t.rejectReason ? ` (${t.rejectReason})` : ""}`),
      " ",
      t.items.map((i) => `${i.quantity} × ${i.name}`).join(", "),
      " ",
    );
    if (t.state === TicketState.NEW) {
      const reason = h("input", { id: `reason-${short}`, value: "out of stock" });
      li.append(
        button(`Accept ${short}`, async () => {
          clearError();
          await stores.acceptOrder({ orderId: t.orderId });
        }),
        h("label", { for: `reason-${short}` }, `Reason to reject ${short}`),
        reason,
        button(`Reject ${short}`, async () => {
          clearError();
          await stores.rejectOrder({ orderId: t.orderId, reason: reason.value });
        }),
      );
    } else if (t.state === TicketState.ACCEPTED) {
      li.append(button(`Finish cooking ${short}`, async () => {
        clearError();
        await stores.finishCooking({ orderId: t.orderId });
      }));
    }
    return li;
  };
}

// ---- rider ---------------------------------------------------------------------------------

function riderView(s: Session): void {
  resetView();
  const list = h("ul", { "aria-label": "Deliveries" });
  app.append(h("section", { "aria-labelledby": "deliveries-title" }, h("h2", { id: "deliveries-title" }, "Deliveries"), list));
  const item = (d: Delivery) => {
    const short = d.orderId.slice(0, 8);
    const li = h(
      "li",
      { "data-order": d.orderId },
      h("span", { role: "status", "aria-label": `Delivery ${short}` }, `Delivery ${short}: ${deliveryStateName(d.state)}`),
      ` from ${d.storeId} `,
    );
    if (d.state === DeliveryState.WAITING_FOR_PICKUP) {
      li.append(button(`Pick up ${short}`, async () => {
        clearError();
        await deliveries.pickUp({ orderId: d.orderId, riderId: s.user });
      }));
    } else if (d.state === DeliveryState.IN_TRANSIT && d.riderId === s.user) {
      li.append(button(`Complete ${short}`, async () => {
        clearError();
        await deliveries.completeDelivery({ orderId: d.orderId });
      }));
    }
    return li;
  };
  every(1000, async () => {
    const { deliveries: mine } = await deliveries.listDeliveries({ pageSize: 50 });
    list.replaceChildren(...mine.map(item));
  });
}

// ---- start ---------------------------------------------------------------------------------

const session = loadSession();
if (session) route(session);
else signInView();
