"""Settings: the Plivo guides' names work, bad settings stop start-up naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from textbridge.cli import app
from textbridge.config import SettingsError, load_settings
from textbridge.dispatch.governor import limits_from
from textbridge.dispatch.rates import DEFAULT_RATES


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("PLIVO_AUTH_ID", "PLIVO_AUTH_TOKEN", "TEXTBRIDGE_ENV", "TEXTBRIDGE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_sandbox() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./textbridge.db"
    assert settings.sandbox
    assert not settings.skip_webhook_verification


def test_plivo_guide_names_and_dotenv_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "PLIVO_AUTH_ID=MAXXXXXXXXXXXXXXXXXX\nPLIVO_AUTH_TOKEN=secret-token\n"
        "PLIVO_SMS_FROM_NUMBER=14155550100\n"
        "TEXTBRIDGE_DATABASE_URL=postgresql://postgres@127.0.0.1/test\n"
    )
    settings = load_settings()
    assert settings.plivo_auth_id == "MAXXXXXXXXXXXXXXXXXX"
    assert settings.plivo_auth_token is not None
    assert settings.plivo_auth_token.get_secret_value() == "secret-token"
    assert settings.plivo_sms_from_number == "14155550100"
    assert settings.database_url == "postgresql+asyncpg://postgres@127.0.0.1/test"
    assert not settings.sandbox
    assert "secret-token" not in repr(settings)


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"TEXTBRIDGE_PORT": "eighty"}, "TEXTBRIDGE_PORT"),
        ({"TEXTBRIDGE_DATABASE_URL": "mysql://x"}, "TEXTBRIDGE_DATABASE_URL"),
        ({"TEXTBRIDGE_PUBLIC_URL": "example.com"}, "TEXTBRIDGE_PUBLIC_URL"),
        ({"TEXTBRIDGE_ENV": "staging"}, "TEXTBRIDGE_ENV"),
        ({"TEXTBRIDGE_SECRET_KEY": "short"}, "TEXTBRIDGE_SECRET_KEY"),
        ({"TEXTBRIDGE_QUIET_HOURS": "8-21"}, "TEXTBRIDGE_QUIET_HOURS"),
        (
            {"TEXTBRIDGE_MEDIA_ALLOWED_NETWORKS": "10.0.0.0/8, lan"},
            "TEXTBRIDGE_MEDIA_ALLOWED_NETWORKS",
        ),
        ({"PLIVO_AUTH_ID": "MAXXXXXXXXXXXXXXXXXX"}, "PLIVO_AUTH_TOKEN"),
        (
            {"TEXTBRIDGE_ENV": "production", "TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION": "true"},
            "TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION",
        ),
    ],
)
def test_bad_settings_stop_start_up_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], named: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_skipping_verification_is_allowed_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTBRIDGE_SKIP_WEBHOOK_VERIFICATION", "1")
    assert load_settings().skip_webhook_verification


def test_sandbox_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTBRIDGE_ENV", "production")
    with pytest.raises(SettingsError, match="sandbox mode") as refused:
        load_settings()
    assert "\n" not in str(refused.value)
    monkeypatch.setenv("PLIVO_AUTH_ID", "MAXXXXXXXXXXXXXXXXXX")
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", "secret-token")
    assert not load_settings().sandbox


def test_vonage_signature_secrets_by_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VONAGE_API_KEY", "main1234")
    monkeypatch.setenv("VONAGE_API_SECRET", "api-secret")
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRETS", "main1234:s3cret-one, sub56789:s3cret-two")
    settings = load_settings()
    assert settings.vonage_secrets_by_api_key == {
        "main1234": "s3cret-one",
        "sub56789": "s3cret-two",
    }
    assert settings.vonage_basic_auth_only
    assert "s3cret" not in repr(settings)
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRETS", "main1234:s3cret-one,no-separator-s3cret")
    with pytest.raises(SettingsError, match="VONAGE_SIGNATURE_SECRETS") as refused:
        load_settings()
    assert "s3cret" not in str(refused.value)


def test_governor_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_settings().governor_enabled  # sandbox: the simulator has no limits
    monkeypatch.setenv("PLIVO_AUTH_ID", "MAXXXXXXXXXXXXXXXXXX")
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", "secret-token")
    monkeypatch.setenv("TEXTBRIDGE_RATE_SENDERS", '{"+14155550100": 10, "ACME": 2.5}')
    monkeypatch.setenv("TEXTBRIDGE_DISPATCH_LEASE_SECONDS", "4")
    settings = load_settings()
    assert settings.governor_enabled
    assert settings.rate_senders == {"+14155550100": 10.0, "ACME": 2.5}
    assert settings.governor_wait_seconds == 1.0  # a quarter of the lease, below the default 2
    monkeypatch.setenv("TEXTBRIDGE_RATE_SENDERS", '{"+14155550100": 0}')
    with pytest.raises(SettingsError, match="TEXTBRIDGE_RATE_SENDERS"):
        load_settings()


def test_quiet_hours_default_and_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().quiet_hours == "08:00-21:00"
    monkeypatch.setenv("TEXTBRIDGE_QUIET_HOURS", " 09:30-24:00 ")
    assert load_settings().quiet_hours == "09:30-24:00"


def test_a_bad_price_table_stops_start_up_naming_the_file_and_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Checked at start-up like every setting (`serve`, `worker`, the CLI), not at the first
    campaign: one line naming the setting, the file and the line."""
    table = tmp_path / "rates.csv"
    table.write_text("# ours\nprovider,channel,country,price\nplivo,sms,US,0.01\nplivo,sms,GB\n")
    monkeypatch.setenv("TEXTBRIDGE_PRICE_TABLE", str(table))
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value) == (
        "invalid configuration: TEXTBRIDGE_PRICE_TABLE: Value error, "
        f"{table} line 4: 3 fields; 4 expected (provider,channel,country,price)"
    )
    started = CliRunner().invoke(app, ["serve"])
    assert started.exit_code == 2, started.output
    # Rich wraps at the terminal's width (80 in CI), inside a long path too: compare the
    # characters, not the spacing.
    assert "".join(started.stderr.split()) == "".join(str(refused.value).split())

    monkeypatch.setenv("TEXTBRIDGE_PRICE_TABLE", str(tmp_path / "missing.csv"))
    with pytest.raises(SettingsError, match=r"TEXTBRIDGE_PRICE_TABLE: .*cannot read .*missing"):
        load_settings()


# The governor's limits: each a setting, defaults from reference/domain.md ("Throughput that
# senders are held to", the table at lines 6 to 14), cited per row. Toll-free and alphanumeric
# are not in domain.md: their defaults come from AWS End User Messaging's "MPS limits"
# (dispatch/rates.py says so where they are defined).
GOVERNOR_LIMITS: dict[str, tuple[str, float, str]] = {
    # setting: (Settings field, default, where the default comes from)
    "TEXTBRIDGE_RATE_LONG_CODE": ("rate_long_code", 1.0, "domain.md:8 about 1 segment/s"),
    "TEXTBRIDGE_RATE_TOLL_FREE": ("rate_toll_free", 3.0, "AWS MPS limits: 3 parts/s"),
    "TEXTBRIDGE_RATE_SHORT_CODE": ("rate_short_code", 100.0, "domain.md:9 100+ segments/s"),
    "TEXTBRIDGE_RATE_ALPHANUMERIC": ("rate_alphanumeric", 10.0, "AWS MPS limits: 10/s"),
    "TEXTBRIDGE_RATE_WHATSAPP": ("rate_whatsapp", 80.0, "domain.md:13 80 messages/s"),
    "TEXTBRIDGE_RATE_PLIVO_ACCOUNT": ("rate_plivo_account", 300 / 5, "domain.md:10 300 per 5 s"),
    "TEXTBRIDGE_RATE_VONAGE_ACCOUNT": ("rate_vonage_account", 30.0, "domain.md:11 30/s per key"),
    "TEXTBRIDGE_WHATSAPP_PAIR_SECONDS": ("whatsapp_pair_seconds", 6.0, "domain.md:14 one per 6 s"),
}
KIND_OF = {
    "rate_long_code": "long_code",
    "rate_toll_free": "toll_free",
    "rate_short_code": "short_code",
    "rate_alphanumeric": "alphanumeric",
    "rate_whatsapp": "whatsapp",
}


def test_governor_limit_defaults_are_the_published_figures() -> None:
    settings = load_settings()
    limits = limits_from(settings)
    for field_name, default, source in GOVERNOR_LIMITS.values():
        assert getattr(settings, field_name) == default, source
    assert limits.per_kind == {kind: getattr(settings, name) for name, kind in KIND_OF.items()}
    assert limits.per_kind == DEFAULT_RATES
    assert limits.per_account == {"plivo": 60.0, "vonage": 30.0}
    assert limits.pair_seconds == 6.0


@pytest.mark.parametrize("setting", sorted(GOVERNOR_LIMITS))
def test_each_governor_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    field_name, _, _ = GOVERNOR_LIMITS[setting]
    monkeypatch.setenv(setting, "2.5")
    settings = load_settings()
    assert getattr(settings, field_name) == 2.5
    limits = limits_from(settings)  # and it reaches the governor
    if field_name in KIND_OF:
        assert limits.per_kind[KIND_OF[field_name]] == 2.5  # type: ignore[index]
    elif field_name == "whatsapp_pair_seconds":
        assert limits.pair_seconds == 2.5
    else:
        assert limits.per_account[field_name.split("_")[1]] == 2.5


@pytest.mark.parametrize("setting", sorted(GOVERNOR_LIMITS))
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("fast", "valid number"),
        ("-1", "greater than"),
        ("1e9", "less than or equal"),
        ("", "valid number"),
    ],
)
def test_a_bad_governor_limit_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str, says: str
) -> None:
    monkeypatch.setenv(setting, value)
    with pytest.raises(SettingsError, match=setting) as refused:
        load_settings()
    assert says in str(refused.value)


def test_a_zero_rate_is_refused_and_a_zero_pair_wait_turns_the_pair_limit_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for setting in sorted(set(GOVERNOR_LIMITS) - {"TEXTBRIDGE_WHATSAPP_PAIR_SECONDS"}):
        monkeypatch.setenv(setting, "0")
        with pytest.raises(SettingsError, match=f"{setting}: Input should be greater than 0"):
            load_settings()
        monkeypatch.delenv(setting)
    monkeypatch.setenv("TEXTBRIDGE_WHATSAPP_PAIR_SECONDS", "0")
    assert limits_from(load_settings()).pair_seconds == 0
