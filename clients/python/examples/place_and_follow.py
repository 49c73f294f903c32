"""Places an order, cancels it, and prints the events it set off.

    make run          # in one terminal
    .venv/bin/python clients/python/examples/place_and_follow.py
"""
import asyncio
import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from fooddelivery_client import Item, OrderClient, ServiceError, subscribe  # noqa: E402


async def main() -> None:
    order_addr = os.environ.get("FD_ORDER_ADDR", "127.0.0.1:50051")
    # NATS lets each service in as itself only; make run writes the admin's URL (with its
    # password) to data/nats-admin.url for tools like this one.
    admin_url = Path("data/nats-admin.url")
    default_nats = admin_url.read_text().strip() if admin_url.exists() else "nats://127.0.0.1:4222"
    nats_url = os.environ.get("NATS_URL", default_nats)
    issuer = os.environ.get("FD_ISSUER_URL", "http://127.0.0.1:50050")
    # Sign in as the demo customer alice (make run's issuer; a real OIDC provider elsewhere).
    body = urllib.parse.urlencode({"grant_type": "password", "username": "alice"}).encode()
    with urllib.request.urlopen(f"{issuer}/token", data=body, timeout=5) as resp:
        token = json.load(resp)["access_token"]
    async with subscribe(nats_url, ["fooddelivery.order.v1.>", "fooddelivery.payment.v1.>"]) as events:
        with OrderClient(order_addr, token=token) as orders:
            try:
                order = orders.place_order(
                    customer_id="alice",
                    store_id="store-1",
                    items=[Item("pizza", "Margherita", 2, 1250), Item("cola", "Cola", 1, 400)],
                    delivery_address="1 Main St",
                )
            except ServiceError as err:
                sys.exit(f"could not place the order: {err}")
            print(f"placed {order.order_id}: {order.total.amount_minor / 100:.2f} {order.total.currency_code}")
            orders.cancel_order(order.order_id, reason="just trying")
        for _ in range(4):
            event = await events.next(timeout=10)
            if event.subject == order.order_id:
                print(f"{event.time}  {event.type:45} id={event.id}")


if __name__ == "__main__":
    asyncio.run(main())
