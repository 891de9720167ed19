"""WhatsApp rules: the 24-hour customer-care window and the template registry."""
