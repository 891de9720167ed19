"""Legal duties: opt-out keywords, the consent ledger, data export and erasure."""
