"""Errors a campaign request is refused with (the API answers 422, or 409 for a state).

MessagingError              (messaging.errors) invalid request; `field` names the input
└── CampaignError           the campaign cannot be created as asked (422)
    └── CampaignStateError  the campaign is not in a state that allows this (409)
"""

from __future__ import annotations

from textbridge.messaging.errors import MessagingError


class CampaignError(MessagingError):
    code = "invalid_campaign"


class CampaignStateError(CampaignError):
    code = "campaign_state"
