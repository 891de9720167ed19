"""Typed settings, read from the environment and from a `.env` file.

The variable names of the Plivo guides (`PLIVO_AUTH_ID`, ...) work as they are; ours are
`TEXTBRIDGE_*`. A missing or malformed setting stops start-up with a message naming it.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from textbridge.campaigns import prices
from textbridge.compliance.keywords import DEFAULT_REPLIES, Family, KeywordPolicy
from textbridge.dispatch.quiet_hours import Window
from textbridge.dispatch.rates import DEFAULT_ACCOUNT_RATES, DEFAULT_PAIR_SECONDS, DEFAULT_RATES

Environment = Literal["development", "production", "test"]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


ConsentWord = Annotated[str, Field(min_length=1, max_length=40)]
ConsentReply = Annotated[str, Field(max_length=1600)]
"""A keyword reply: one SMS holds up to 1600 characters (an empty one sends nothing)."""


class SettingsError(Exception):
    """Configuration that cannot be used; the message names the setting."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    env: Environment = Field("development", validation_alias=_env("TEXTBRIDGE_ENV"))
    database_url: str = Field(
        "sqlite+aiosqlite:///./textbridge.db", validation_alias=_env("TEXTBRIDGE_DATABASE_URL")
    )
    # PostgreSQL: connections kept by each process's engine (besides the API send path's and the
    # listener's). A fleet of N processes holds up to N times it: size it to max_connections.
    database_pool_size: int = Field(
        30, ge=1, le=100, validation_alias=_env("TEXTBRIDGE_DATABASE_POOL_SIZE")
    )
    public_url: str = Field("http://127.0.0.1:8000", validation_alias=_env("TEXTBRIDGE_PUBLIC_URL"))
    api_key: SecretStr | None = Field(None, validation_alias=_env("TEXTBRIDGE_API_KEY"))
    skip_webhook_verification: bool = Field(
        False, validation_alias=_env("TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION")
    )
    secret_key: SecretStr | None = Field(None, validation_alias=_env("TEXTBRIDGE_SECRET_KEY"))
    host: str = Field("127.0.0.1", validation_alias=_env("TEXTBRIDGE_HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=_env("TEXTBRIDGE_PORT"))
    log_level: str = Field("info", validation_alias=_env("TEXTBRIDGE_LOG_LEVEL"))
    log_format: Literal["console", "json"] = Field(
        "console", validation_alias=_env("TEXTBRIDGE_LOG_FORMAT")
    )
    # Observability (metrics.py, alerts.py): `/metrics` needs an admin key unless this is on.
    metrics_public: bool = Field(False, validation_alias=_env("TEXTBRIDGE_METRICS_PUBLIC"))
    alert_no_receipt_minutes: int = Field(
        60, ge=1, le=100_000, validation_alias=_env("TEXTBRIDGE_ALERT_NO_RECEIPT_MINUTES")
    )
    alert_refused_window_minutes: int = Field(
        15, ge=1, le=10_000, validation_alias=_env("TEXTBRIDGE_ALERT_REFUSED_WINDOW_MINUTES")
    )
    alert_refused_signatures: int = Field(
        10, ge=1, validation_alias=_env("TEXTBRIDGE_ALERT_REFUSED_SIGNATURES")
    )
    alert_journal_backlog: int = Field(
        100, ge=1, validation_alias=_env("TEXTBRIDGE_ALERT_JOURNAL_BACKLOG")
    )
    media_download: bool = Field(False, validation_alias=_env("TEXTBRIDGE_MEDIA_DOWNLOAD"))
    media_dir: Path = Field(Path("media"), validation_alias=_env("TEXTBRIDGE_MEDIA_DIR"))
    media_max_bytes: int = Field(
        20_000_000, ge=1, validation_alias=_env("TEXTBRIDGE_MEDIA_MAX_BYTES")
    )
    media_timeout: float = Field(
        120.0, gt=0, le=3600, validation_alias=_env("TEXTBRIDGE_MEDIA_TIMEOUT")
    )
    media_concurrency: int = Field(
        4, ge=1, le=100, validation_alias=_env("TEXTBRIDGE_MEDIA_CONCURRENCY")
    )
    # Internal networks media may still be fetched from (comma-separated CIDRs): a media mirror
    # on the LAN, a provider simulator on this machine. Empty: public addresses only.
    media_allowed_networks: str = Field(
        "", validation_alias=_env("TEXTBRIDGE_MEDIA_ALLOWED_NETWORKS")
    )
    # How long an uploaded media's public URL answers (the provider fetches it when it sends).
    media_upload_ttl_seconds: int = Field(
        30 * 24 * 3600,
        ge=60,
        le=400 * 24 * 3600,
        validation_alias=_env("TEXTBRIDGE_MEDIA_UPLOAD_TTL_SECONDS"),
    )
    # Outbound webhooks (`webhooks_out`): attempts before a delivery is parked dead, the first
    # retry's delay (doubling, jittered), and each POST's deadline.
    hooks_max_attempts: int = Field(
        8, ge=1, le=50, validation_alias=_env("TEXTBRIDGE_HOOKS_MAX_ATTEMPTS")
    )
    hooks_retry_base_seconds: float = Field(
        5.0, gt=0, le=3600, validation_alias=_env("TEXTBRIDGE_HOOKS_RETRY_BASE_SECONDS")
    )
    hooks_timeout_seconds: float = Field(
        10.0, gt=0, le=120, validation_alias=_env("TEXTBRIDGE_HOOKS_TIMEOUT_SECONDS")
    )
    webhook_max_body_bytes: int = Field(
        1_000_000, ge=1, validation_alias=_env("TEXTBRIDGE_WEBHOOK_MAX_BODY_BYTES")
    )
    api_max_body_bytes: int = Field(
        1_000_000, ge=1, validation_alias=_env("TEXTBRIDGE_API_MAX_BODY_BYTES")
    )
    dispatch_concurrency: int = Field(
        16, ge=1, le=1000, validation_alias=_env("TEXTBRIDGE_DISPATCH_CONCURRENCY")
    )
    journal_retention_days: int = Field(
        30, ge=1, le=36_500, validation_alias=_env("TEXTBRIDGE_JOURNAL_RETENTION_DAYS")
    )
    # Message content (texts, media, raw payloads, journal bodies) older than this is purged;
    # None: kept for ever (compliance/retention.py).
    message_retention_days: int | None = Field(
        None, ge=1, le=36_500, validation_alias=_env("TEXTBRIDGE_MESSAGE_RETENTION_DAYS")
    )
    dispatch_lease_seconds: int = Field(
        120, ge=2, le=86_400, validation_alias=_env("TEXTBRIDGE_DISPATCH_LEASE_SECONDS")
    )
    shutdown_grace_seconds: float = Field(
        30, ge=0, le=3600, validation_alias=_env("TEXTBRIDGE_SHUTDOWN_GRACE_SECONDS")
    )
    # The rate governor (dispatch/governor.py; defaults and their sources in dispatch/rates.py).
    governor: bool | None = Field(None, validation_alias=_env("TEXTBRIDGE_GOVERNOR"))
    rate_long_code: float = Field(
        DEFAULT_RATES["long_code"], gt=0, le=1e5, validation_alias=_env("TEXTBRIDGE_RATE_LONG_CODE")
    )
    rate_toll_free: float = Field(
        DEFAULT_RATES["toll_free"], gt=0, le=1e5, validation_alias=_env("TEXTBRIDGE_RATE_TOLL_FREE")
    )
    rate_short_code: float = Field(
        DEFAULT_RATES["short_code"],
        gt=0,
        le=1e5,
        validation_alias=_env("TEXTBRIDGE_RATE_SHORT_CODE"),
    )
    rate_alphanumeric: float = Field(
        DEFAULT_RATES["alphanumeric"],
        gt=0,
        le=1e5,
        validation_alias=_env("TEXTBRIDGE_RATE_ALPHANUMERIC"),
    )
    rate_whatsapp: float = Field(
        DEFAULT_RATES["whatsapp"], gt=0, le=1e5, validation_alias=_env("TEXTBRIDGE_RATE_WHATSAPP")
    )
    rate_senders: dict[str, Annotated[float, Field(gt=0, le=1e5)]] = Field(
        default_factory=dict, validation_alias=_env("TEXTBRIDGE_RATE_SENDERS")
    )
    rate_plivo_account: float = Field(
        DEFAULT_ACCOUNT_RATES["plivo"],
        gt=0,
        le=1e5,
        validation_alias=_env("TEXTBRIDGE_RATE_PLIVO_ACCOUNT"),
    )
    rate_vonage_account: float = Field(
        DEFAULT_ACCOUNT_RATES["vonage"],
        gt=0,
        le=1e5,
        validation_alias=_env("TEXTBRIDGE_RATE_VONAGE_ACCOUNT"),
    )
    whatsapp_pair_seconds: float = Field(
        DEFAULT_PAIR_SECONDS,
        ge=0,
        le=3600,
        validation_alias=_env("TEXTBRIDGE_WHATSAPP_PAIR_SECONDS"),
    )
    governor_margin: float = Field(
        0.04, ge=0, le=0.5, validation_alias=_env("TEXTBRIDGE_GOVERNOR_MARGIN")
    )
    governor_max_wait_seconds: float = Field(
        2.0, gt=0, le=3600, validation_alias=_env("TEXTBRIDGE_GOVERNOR_MAX_WAIT_SECONDS")
    )
    governor_recovery_seconds: float = Field(
        30.0, gt=0, le=3600, validation_alias=_env("TEXTBRIDGE_GOVERNOR_RECOVERY_SECONDS")
    )
    dispatch_max_attempts: int = Field(
        5, ge=1, le=100, validation_alias=_env("TEXTBRIDGE_DISPATCH_MAX_ATTEMPTS")
    )
    dispatch_max_rate_limited: int = Field(
        100, ge=1, le=10_000, validation_alias=_env("TEXTBRIDGE_DISPATCH_MAX_RATE_LIMITED")
    )
    # The recipient's local hours when campaign messages (and API sends that ask) may leave.
    quiet_hours: str = Field("08:00-21:00", validation_alias=_env("TEXTBRIDGE_QUIET_HOURS"))
    price_table: Path | None = Field(None, validation_alias=_env("TEXTBRIDGE_PRICE_TABLE"))
    api_key_cache_seconds: float = Field(
        3.0, ge=0, le=60, validation_alias=_env("TEXTBRIDGE_API_KEY_CACHE_SECONDS")
    )
    # Keywords and consent (compliance/keywords.py): words added per language and family,
    # the replies, the scope of a plain STOP, CASL's expiry of an implied consent.
    consent_keywords: dict[str, dict[Family, list[ConsentWord]]] = Field(
        default_factory=dict, validation_alias=_env("TEXTBRIDGE_CONSENT_KEYWORDS")
    )
    consent_reply_stop: ConsentReply = Field(
        DEFAULT_REPLIES["stop"], validation_alias=_env("TEXTBRIDGE_CONSENT_REPLY_STOP")
    )
    consent_reply_start: ConsentReply = Field(
        DEFAULT_REPLIES["start"], validation_alias=_env("TEXTBRIDGE_CONSENT_REPLY_START")
    )
    consent_reply_help: ConsentReply = Field(
        DEFAULT_REPLIES["help"], validation_alias=_env("TEXTBRIDGE_CONSENT_REPLY_HELP")
    )
    consent_replies: dict[str, dict[Family, ConsentReply]] = Field(
        default_factory=dict, validation_alias=_env("TEXTBRIDGE_CONSENT_REPLIES")
    )
    consent_stop_scope: Literal["sender", "all"] = Field(
        "sender", validation_alias=_env("TEXTBRIDGE_CONSENT_STOP_SCOPE")
    )
    consent_first_word_opt_out: bool = Field(
        False, validation_alias=_env("TEXTBRIDGE_CONSENT_FIRST_WORD_OPT_OUT")
    )
    consent_implied_days: int = Field(
        730, ge=1, le=36_500, validation_alias=_env("TEXTBRIDGE_CONSENT_IMPLIED_DAYS")
    )
    # Requests per second per API key (or signed-in user), in each process; 0 turns it off.
    api_rate_per_second: float = Field(
        100.0, ge=0, le=100_000, validation_alias=_env("TEXTBRIDGE_API_RATE_PER_SECOND")
    )
    api_rate_burst: int = Field(
        200, ge=1, le=1_000_000, validation_alias=_env("TEXTBRIDGE_API_RATE_BURST")
    )
    # PostgreSQL: the API send path's own connections, besides the engine's pool. Its
    # reads hold one for a statement, and writes are grouped, two batches at a time
    # (`db/driver.py`): 8 is room.
    api_send_connections: int = Field(
        8, ge=1, le=100, validation_alias=_env("TEXTBRIDGE_API_SEND_CONNECTIONS")
    )

    plivo_auth_id: str | None = Field(None, validation_alias=_env("PLIVO_AUTH_ID"))
    plivo_auth_token: SecretStr | None = Field(None, validation_alias=_env("PLIVO_AUTH_TOKEN"))
    plivo_sms_from_number: str | None = Field(None, validation_alias=_env("PLIVO_SMS_FROM_NUMBER"))
    plivo_whatsapp_number: str | None = Field(None, validation_alias=_env("PLIVO_WHATSAPP_NUMBER"))
    plivo_api_base_url: str = Field(
        "https://api.plivo.com/v1/Account", validation_alias=_env("TEXTBRIDGE_PLIVO_API_BASE_URL")
    )
    plivo_waba_id: str | None = Field(None, validation_alias=_env("PLIVO_WABA_ID"))
    plivo_accept_v2: bool = Field(False, validation_alias=_env("TEXTBRIDGE_PLIVO_ACCEPT_V2"))

    vonage_application_id: str | None = Field(None, validation_alias=_env("VONAGE_APPLICATION_ID"))
    vonage_private_key_content: SecretStr | None = Field(
        None, validation_alias=_env("VONAGE_PRIVATE_KEY_CONTENT")
    )
    vonage_private_key_path: Path | None = Field(
        None, validation_alias=_env("VONAGE_PRIVATE_KEY_PATH")
    )
    vonage_api_key: str | None = Field(None, validation_alias=_env("VONAGE_API_KEY"))
    vonage_api_secret: SecretStr | None = Field(None, validation_alias=_env("VONAGE_API_SECRET"))
    vonage_signature_secret: SecretStr | None = Field(
        None, validation_alias=_env("VONAGE_SIGNATURE_SECRET")
    )
    vonage_signature_secrets: SecretStr | None = Field(
        None, validation_alias=_env("VONAGE_SIGNATURE_SECRETS")
    )
    vonage_number: str | None = Field(None, validation_alias=_env("VONAGE_NUMBER"))
    vonage_whatsapp_number: str | None = Field(
        None, validation_alias=_env("VONAGE_WHATSAPP_NUMBER")
    )
    vonage_api_base_url: str = Field(
        "https://api.nexmo.com", validation_alias=_env("TEXTBRIDGE_VONAGE_API_BASE_URL")
    )
    # The REST host of Vonage's account APIs (balance, numbers): `doctor` and `providers
    # configure` call it; the Messages and Application APIs are on `vonage_api_base_url`.
    vonage_rest_base_url: str = Field(
        "https://rest.nexmo.com", validation_alias=_env("TEXTBRIDGE_VONAGE_REST_BASE_URL")
    )
    vonage_signature_max_age: int = Field(
        300, ge=1, le=86_400, validation_alias=_env("TEXTBRIDGE_VONAGE_SIGNATURE_MAX_AGE")
    )

    @field_validator(
        "public_url", "plivo_api_base_url", "vonage_api_base_url", "vonage_rest_base_url"
    )
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("quiet_hours")
    @classmethod
    def _a_window(cls, value: str) -> str:
        return str(Window.parse(value))

    @field_validator("vonage_signature_secrets")
    @classmethod
    def _api_key_secret_pairs(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _secret_pairs(value.get_secret_value())
        return value

    @field_validator("media_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        networks(value)
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # HS256 keys shorter than the hash are weak (RFC 7518 section 3.2).
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes long (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("price_table")
    @classmethod
    def _readable_price_table(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        try:
            prices.load(value)  # a bad table stops start-up, naming the file and line
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if value.startswith("sqlite://") and "+aiosqlite" not in value:
            return value.replace("sqlite://", "sqlite+aiosqlite://", 1)
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _verification_never_off_in_production(self) -> Settings:
        if self.skip_webhook_verification and self.env == "production":
            raise ValueError(
                "TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION is refused when TEXTBRIDGE_ENV=production"
            )
        if self.env == "production" and not (self.plivo_configured or self.vonage_configured):
            raise ValueError(
                "sandbox mode (no provider credentials) is refused when TEXTBRIDGE_ENV=production:"
                " set PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN or Vonage's credentials"
            )
        if bool(self.plivo_auth_id) != bool(self.plivo_auth_token):
            raise ValueError("PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN must be set together")
        self._check_vonage()
        return self

    def _check_vonage(self) -> None:
        key = self.vonage_private_key_content or self.vonage_private_key_path
        if self.vonage_application_id and not key:
            raise ValueError(
                "VONAGE_APPLICATION_ID needs VONAGE_PRIVATE_KEY_CONTENT or VONAGE_PRIVATE_KEY_PATH"
            )
        if self.vonage_private_key_path and not self.vonage_private_key_path.is_file():
            raise ValueError(f"VONAGE_PRIVATE_KEY_PATH: no file at {self.vonage_private_key_path}")
        if bool(self.vonage_api_key) != bool(self.vonage_api_secret):
            raise ValueError("VONAGE_API_KEY and VONAGE_API_SECRET must be set together")
        if (
            self.vonage_configured
            and self.vonage_signature_secret is None
            and self.vonage_signature_secrets is None
            and not self.skip_webhook_verification
        ):
            raise ValueError(
                "VONAGE_SIGNATURE_SECRET is required to verify Vonage's signed webhooks"
            )

    @property
    def vonage_secrets_by_api_key(self) -> dict[str, str]:
        """`VONAGE_SIGNATURE_SECRETS` (`api_key:secret,...`) as a mapping."""
        if self.vonage_signature_secrets is None:
            return {}
        return _secret_pairs(self.vonage_signature_secrets.get_secret_value())

    @property
    def vonage_basic_auth_only(self) -> bool:
        """Vonage with an API key and secret but no application: Vonage neither signs nor
        sends Messages webhooks to such an account."""
        return bool(self.vonage_api_key) and not self.vonage_application_id

    @property
    def plivo_configured(self) -> bool:
        return self.plivo_auth_id is not None

    @property
    def vonage_configured(self) -> bool:
        return bool(self.vonage_application_id or self.vonage_api_key)

    @cached_property
    def sandbox(self) -> bool:
        """No provider credentials: the built-in simulator plays the providers."""
        return not (self.plivo_configured or self.vonage_configured)

    @property
    def governor_wait_seconds(self) -> float:
        """TEXTBRIDGE_GOVERNOR_MAX_WAIT_SECONDS, at most a quarter of the lease: a message waits
        for its slot while it holds its lease, and the provider call then gets half of it."""
        return min(self.governor_max_wait_seconds, self.dispatch_lease_seconds / 4)

    @property
    def governor_enabled(self) -> bool:
        """TEXTBRIDGE_GOVERNOR, or when unset: on with real providers, off in sandbox mode (the
        simulator has no limits, and a long code's 1/s would slow every local try)."""
        return self.governor if self.governor is not None else not self.sandbox

    def keyword_policy(self) -> KeywordPolicy:
        """The keywords, replies and consent rules these settings ask for."""
        extra = {
            language: {family: tuple(words) for family, words in families.items()}
            for language, families in self.consent_keywords.items()
        }
        replies: dict[Family, str] = {
            "stop": self.consent_reply_stop,
            "start": self.consent_reply_start,
            "help": self.consent_reply_help,
        }
        return KeywordPolicy(
            extra_words=extra,
            default_replies=replies,
            replies={language: dict(own) for language, own in self.consent_replies.items()},
            stop_scope=self.consent_stop_scope,
            first_word_opt_out=self.consent_first_word_opt_out,
            implied_days=self.consent_implied_days,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        return Path(self.database_url.split(":///", 1)[1])


def networks(value: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, 127.0.0.1` as networks (an address alone is a network of one)."""
    found: list[IPNetwork] = []
    for number, item in enumerate(value.split(","), start=1):
        if not item.strip():
            continue
        try:
            found.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"entry {number} is not an address or a CIDR network") from None
    return tuple(found)


def _secret_pairs(value: str) -> dict[str, str]:
    """`key1:secret1,key2:secret2` as a mapping; the message never quotes a secret."""
    pairs: dict[str, str] = {}
    for number, item in enumerate(value.split(","), start=1):
        api_key, separator, secret = item.strip().partition(":")
        if not (separator and api_key.strip() and secret.strip()):
            raise ValueError(f"entry {number} is not api_key:secret (comma-separated entries)")
        pairs[api_key.strip()] = secret.strip()
    return pairs


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one message that names each bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = _setting_name(error["loc"])
        lines.append(f"{name}: {error['msg']}" if name else error["msg"])
    return "invalid configuration: " + "; ".join(lines)


def _setting_name(location: tuple[int | str, ...]) -> str:
    if not location:
        return ""
    field = Settings.model_fields.get(str(location[0]))
    alias = field.validation_alias if field else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return str(location[0]).upper()
