"""Opt-out, opt-in and help keywords, matched as the carriers match them.

A message is a keyword when the whole of it, trimmed, case-insensitive, with the spaces and
punctuation around it ignored, is one of a family's words (CTIA practice; domain.md, "Opt-out and
consent"): `STOP.` and ` stop ` are STOP, `Stop sending me this` is not. Accents are ignored too,
so that a configured `ARRET` also matches `Arrêt`.

The English families are always on. Other languages add words per family
(`TEXTBRIDGE_CONSENT_KEYWORDS`, see `KeywordPolicy`); the language a word was matched in picks
the reply (`TEXTBRIDGE_CONSENT_REPLIES`).

What the providers tell us is honoured too:
- Plivo's `MessageIntent` (`optout`, `optin`, `help`: Plivo matched one of its standard
  keywords; https://www.plivo.com/docs/sms/api/message/handling-incoming/) decides the family
  when our own match finds none (Plivo's lists may hold a word ours does not).
- Vonage's `sms.keyword` is only the first word of the text, upper-cased
  (https://developer.vonage.com/messaging/sms/guides/inbound-sms; the Java SDK's
  `SmsInboundMetadata.getKeyword`: "The first word of the message sent to uppercase"), not an
  intent: taken alone it would opt out a person who wrote "Stop by at 5?". It counts only with
  `TEXTBRIDGE_CONSENT_FIRST_WORD_OPT_OUT`, and then for the STOP family alone (where a false
  positive costs a subscriber and a false negative a complaint); without a Vonage keyword the
  first word of the text is used the same way.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Final, Literal

from textbridge.providers.base import InboundMessage

Family = Literal["stop", "start", "help"]
FAMILIES: Final[tuple[Family, ...]] = ("stop", "start", "help")
DEFAULT_LANGUAGE: Final = "en"

ENGLISH: Final[dict[Family, tuple[str, ...]]] = {
    "stop": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"),
    "start": ("START", "UNSTOP", "YES"),
    "help": ("HELP", "INFO"),
}
ALL_SENDERS_WORDS: Final = frozenset({"STOPALL"})
"""STOP-family words that opt out of every sender of ours, whatever `stop_scope` says."""
AFTER_OPT_OUT_ONLY: Final = frozenset({"YES"})
"""START-family words that opt in only where the address is opted out: a plain "yes" in a
conversation is an answer, not a subscription."""

PLIVO_INTENTS: Final[dict[str, Family]] = {"optout": "stop", "optin": "start", "help": "help"}
"""Plivo's `MessageIntent` values (handling-incoming page, SMS on long codes and toll-free)."""

DEFAULT_REPLIES: Final[dict[Family, str]] = {
    "stop": "You are unsubscribed and will get no more messages from this number. "
    "Reply START to subscribe again.",
    "start": "You are subscribed again. Reply HELP for help, STOP to unsubscribe.",
    "help": "Reply STOP to unsubscribe, START to subscribe again. Msg & data rates may apply.",
}


def normalized(text: str) -> str:
    """What is compared: accents dropped, case folded, inner spaces collapsed, and the spaces
    and punctuation around the words removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = plain.casefold().split()
    joined = " ".join(words)
    start, end = 0, len(joined)
    while start < end and not joined[start].isalnum():
        start += 1
    while end > start and not joined[end - 1].isalnum():
        end -= 1
    return joined[start:end]


@dataclass(frozen=True, slots=True)
class Match:
    """A keyword found in an inbound message."""

    family: Family
    word: str
    """The configured word that matched (upper case), or Plivo's `MessageIntent` value."""
    language: str
    all_senders: bool
    """STOPALL (or every STOP word, with `stop_scope="all"`): the opt-out covers every sender."""
    after_opt_out_only: bool = False
    by: str = "text"  # text | plivo_intent | first_word


@dataclass(frozen=True, slots=True)
class KeywordPolicy:
    """The words of each family by language, the replies, and the scope of a plain STOP.

    `extra_words`: {"fr": {"stop": ["ARRET"], "start": ["COMMENCER"], "help": ["AIDE"]}}, added
    to the English words. `replies`: {"fr": {"stop": "..."}}, the reply to a word matched in
    that language (English: `default_replies`). `stop_scope`: "sender" (the carriers' rule: a
    STOP covers the number it was sent to) or "all"."""

    extra_words: dict[str, dict[Family, tuple[str, ...]]] = field(default_factory=dict)
    default_replies: dict[Family, str] = field(default_factory=lambda: dict(DEFAULT_REPLIES))
    replies: dict[str, dict[Family, str]] = field(default_factory=dict)
    stop_scope: Literal["sender", "all"] = "sender"
    first_word_opt_out: bool = False
    implied_days: int = 730
    """How long an implied consent lasts when its record names no expiry (CASL: two years
    from a purchase in an existing business relationship)."""
    _index: dict[str, tuple[Family, str, str]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        languages = {DEFAULT_LANGUAGE: ENGLISH, **self.extra_words}
        for language, families in languages.items():
            for family, words in families.items():
                for word in words:
                    key = normalized(word)
                    if key:  # the first language to claim a word keeps it (English first)
                        self._index.setdefault(key, (family, word.upper(), language))

    def match(self, inbound: InboundMessage) -> Match | None:
        """The keyword `inbound` is, if any (see the module docstring)."""
        found = self._index.get(normalized(inbound.text))
        if found is not None:
            return self._match(*found)
        hint = (inbound.intent or "").strip().lower()
        intent = PLIVO_INTENTS.get(hint)
        if intent is not None:
            return Match(intent, hint, DEFAULT_LANGUAGE, self._all(intent), by="plivo_intent")
        if self.first_word_opt_out:
            return self._first_word(inbound)
        return None

    def _match(self, family: Family, word: str, language: str) -> Match:
        return Match(
            family,
            word,
            language,
            all_senders=word in ALL_SENDERS_WORDS or self._all(family),
            after_opt_out_only=word in AFTER_OPT_OUT_ONLY,
        )

    def _all(self, family: Family) -> bool:
        return family == "stop" and self.stop_scope == "all"

    def _first_word(self, inbound: InboundMessage) -> Match | None:
        words = (inbound.keyword or inbound.text).split()
        found = self._index.get(normalized(words[0])) if words else None
        if found is None or found[0] != "stop":
            return None
        all_senders = found[1] in ALL_SENDERS_WORDS or self._all("stop")
        return Match(*found, all_senders=all_senders, by="first_word")

    def reply(self, match: Match) -> str:
        """The reply to `match` in its language (a sender's own reply wins over it)."""
        own = self.replies.get(match.language, {}).get(match.family)
        return own if own is not None else self.default_replies[match.family]


_active = KeywordPolicy()


def configure(policy: KeywordPolicy) -> None:
    """Install this process's policy (`runtime.build_runtime`, from the settings)."""
    global _active
    _active = policy


def active() -> KeywordPolicy:
    return _active
