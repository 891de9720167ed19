"""The control API (under ``/control``): fates, faults, inbound injection, clock, templates.

Not part of any provider; tests, the inbox sandbox form and the ``sim`` CLI drive the simulator
through it. Only loopback clients, or (inside ``serve``) holders of an API key, may: see
``access``."""
