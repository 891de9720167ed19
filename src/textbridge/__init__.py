"""textbridge: self-hosted two-way SMS and WhatsApp through Plivo and Vonage."""

__version__ = "0.1.0"
