"""A small typed Python client for the food-delivery contracts.

The gRPC stubs are generated from proto/ (``make clients``) into the ``fooddelivery`` package;
this package wraps the order API in plain Python calls with typed errors, and decodes the
events the services publish on NATS JetStream together with their CloudEvents headers.
"""
from .errors import FieldViolation, ServiceError
from .events import Event, decode_event, subscribe
from .orders import Item, OrderClient

__all__ = ["Event", "FieldViolation", "Item", "OrderClient", "ServiceError", "decode_event", "subscribe"]
