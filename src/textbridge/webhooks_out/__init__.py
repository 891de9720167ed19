"""Outbound webhooks: subscriptions, the fan-out of events into deliveries, and the deliverer."""
