"""The fake Plivo: its REST API, WhatsApp rules, status callbacks and inbound webhooks."""
