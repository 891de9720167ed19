"""Provider webhooks: verify, journal once, answer fast; apply from the journal afterwards."""
