"""ORM models, one module per table."""

from textbridge.models.api_key import ApiKey
from textbridge.models.audit_entry import AuditEntry
from textbridge.models.campaign import Campaign, CampaignRecipient
from textbridge.models.consent_record import ConsentRecord
from textbridge.models.contact import Contact
from textbridge.models.conversation import Conversation
from textbridge.models.governor_limit import GovernorLimit
from textbridge.models.instance_secret import InstanceSecret
from textbridge.models.live_event import LiveEvent
from textbridge.models.message import Attachment, Message, MessageEvent
from textbridge.models.message_count import (
    DeliveryTimeBlockCount,
    DeliveryTimeBucket,
    DeliveryTimeCount,
    MessageBlockCount,
    MessageCount,
    MessageTotal,
)
from textbridge.models.sender import Sender
from textbridge.models.template import MessageTemplate
from textbridge.models.user import User
from textbridge.models.web_session import WebSession
from textbridge.models.webhook_journal import WebhookJournalEntry
from textbridge.models.webhook_nonce import WebhookNonce
from textbridge.models.webhook_subscription import WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiKey",
    "Attachment",
    "AuditEntry",
    "Campaign",
    "CampaignRecipient",
    "ConsentRecord",
    "Contact",
    "Conversation",
    "DeliveryTimeBlockCount",
    "DeliveryTimeBucket",
    "DeliveryTimeCount",
    "GovernorLimit",
    "InstanceSecret",
    "LiveEvent",
    "Message",
    "MessageBlockCount",
    "MessageCount",
    "MessageEvent",
    "MessageTemplate",
    "MessageTotal",
    "Sender",
    "User",
    "WebSession",
    "WebhookDelivery",
    "WebhookJournalEntry",
    "WebhookNonce",
    "WebhookSubscription",
]
