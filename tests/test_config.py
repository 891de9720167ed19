"""Settings: the Plivo guides' names work, bad settings stop start-up naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from textbridge.config import SettingsError, load_settings


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
