"""Campaigns: one content to many recipients, as ordinary outbound messages.

`recipients` reads a file (CSV, JSON, JSON Lines), `prepare` checks and renders one recipient,
`service` holds the states and rules, `bulk` all the SQL (in sets), `report` the counts and the
live `campaign.progress` events, `prices` the price table behind the cost estimate.
"""
