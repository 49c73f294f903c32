"""The marketing context of the food-delivery system (see services/marketing/README.md)."""

SERVICE = "marketing"
VERSION = "0.1.0"
