"""Keyword matching as the carriers do it: the whole message, case, spaces, punctuation and
accents ignored; languages added by configuration; the providers' hints."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from textbridge.compliance.keywords import KeywordPolicy, Match, normalized
from textbridge.config import SettingsError, load_settings
from textbridge.providers.base import InboundMessage
from textbridge.providers.plivo import webhooks as plivo_webhooks
from textbridge.providers.vonage import webhooks as vonage_webhooks

FRENCH = KeywordPolicy(
    extra_words={"fr": {"stop": ("ARRÊT",), "start": ("COMMENCER",), "help": ("AIDE",)}},
    replies={"fr": {"stop": "Vous êtes désabonné."}},
)


def message(text: str, intent: str | None = None, keyword: str | None = None) -> InboundMessage:
    return InboundMessage(
        "plivo", "id", "sms", "+14155550199", "+14155550100", text, intent=intent, keyword=keyword
    )


def family(policy: KeywordPolicy, text: str, **hints: str) -> str | None:
    found = policy.match(message(text, **hints))
    return found.family if found else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),
        (" stop. ", "stop"),
        ("Unsubscribe!!", "stop"),
        ("opt-out", None),  # OPTOUT is one word; carriers do not split it
        ("OptOut", "stop"),
        ("revoke", "stop"),
        ("Stop sending me these", None),
        ("stopp", None),
        ("START", "start"),
        ("unstop", "start"),
        ("¿Help?", "help"),
        ("info", "help"),
        ("arret", "stop"),
        ("Arrêt", "stop"),
        ("aide", "help"),
        ("commencer", "start"),
        ("", None),
        ("🙂", None),
    ],
)
def test_the_whole_message_is_the_keyword(text: str, expected: str | None) -> None:
    assert family(FRENCH, text) == expected


def test_english_is_always_on() -> None:
    assert family(KeywordPolicy(), "QUIT") == "stop"
    assert family(KeywordPolicy(), "arret") is None


def test_stopall_covers_every_sender_and_stop_only_its_own() -> None:
    policy = KeywordPolicy()
    assert policy.match(message("stopall")) == Match("stop", "STOPALL", "en", all_senders=True)
    assert policy.match(message("stop")) == Match("stop", "STOP", "en", all_senders=False)
    everywhere = KeywordPolicy(stop_scope="all")
    found = everywhere.match(message("cancel"))
    assert found is not None
    assert found.all_senders


def test_yes_is_an_opt_in_only_after_an_opt_out() -> None:
    found = KeywordPolicy().match(message("Yes"))
    assert found is not None
    assert (found.family, found.after_opt_out_only) == ("start", True)
    start = KeywordPolicy().match(message("start"))
    assert start is not None
    assert not start.after_opt_out_only


def test_plivo_message_intent_decides_when_our_words_do_not() -> None:
    policy = KeywordPolicy()
    assert family(policy, "Stop please", intent="optout") == "stop"
    assert family(policy, "resume", intent="optin") == "start"
    assert family(policy, "?", intent="help") == "help"
    assert family(policy, "hello", intent="") is None
    found = policy.match(message("Stop please", intent="optout"))
    assert found is not None
    assert found.by == "plivo_intent"


def test_vonage_keyword_counts_only_when_first_words_opt_out() -> None:
    text = "STOP texting me"
    assert family(KeywordPolicy(), text, keyword="STOP") is None
    first_word = KeywordPolicy(first_word_opt_out=True)
    assert family(first_word, text, keyword="STOP") == "stop"
    assert family(first_word, "Help me with my order", keyword="HELP") is None  # STOP family only
    assert family(first_word, "stop it now") == "stop"  # without the field: the text's first word


def test_the_reply_follows_the_language_matched() -> None:
    french = FRENCH.match(message("arrêt"))
    english = FRENCH.match(message("stop"))
    assert french is not None
    assert english is not None
    assert FRENCH.reply(french) == "Vous êtes désabonné."
    assert FRENCH.reply(english).startswith("You are unsubscribed")


def test_normalized() -> None:
    assert normalized("  ¡Stop   ALL! ") == "stop all"
    assert normalized("...") == ""


FIXTURES = Path(__file__).parents[2] / "src" / "textbridge" / "providers"


def test_the_providers_hints_reach_the_normalized_message() -> None:
    form = (FIXTURES / "plivo" / "fixtures" / "inbound_stop_keyword.form").read_text().strip()
    (plivo,) = plivo_webhooks.parse("inbound", parse_qsl(form, keep_blank_values=True))
    assert isinstance(plivo, InboundMessage)
    assert (plivo.intent, plivo.keyword) == ("optout", None)
    body = (FIXTURES / "vonage" / "fixtures" / "inbound_stop_keyword.json").read_text()
    vonage = vonage_webhooks.inbound(json.loads(body))
    assert (vonage.intent, vonage.keyword) == (None, "STOP")
    plain = (FIXTURES / "plivo" / "fixtures" / "inbound_sms.form").read_text().strip()
    (blank,) = plivo_webhooks.parse("inbound", parse_qsl(plain, keep_blank_values=True))
    assert isinstance(blank, InboundMessage)
    assert blank.intent is None


def test_the_settings_make_the_policy() -> None:
    settings = load_settings(
        env="test",
        consent_keywords={"es": {"stop": ["ALTO"], "help": ["AYUDA"]}},
        consent_replies={"es": {"stop": "Baja confirmada."}},
        consent_reply_help="",
        consent_stop_scope="all",
    )
    policy = settings.keyword_policy()
    alto = policy.match(message("¡Alto!"))
    assert alto is not None
    assert (alto.family, alto.language, alto.all_senders) == ("stop", "es", True)
    assert policy.reply(alto) == "Baja confirmada."
    help_match = policy.match(message("help"))
    assert help_match is not None
    assert policy.reply(help_match) == ""  # no reply


def test_a_bad_family_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="TEXTBRIDGE_CONSENT_KEYWORDS"):
        load_settings(env="test", consent_keywords={"fr": {"halt": ["ARRET"]}})
