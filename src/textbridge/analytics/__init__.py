"""Analytics over the messages and the consent ledger: volumes, delivery, time to delivered,
cost, opt-outs and campaign funnels per day in any time zone (`query`, `window`), as JSON or
CSV (`export`)."""
