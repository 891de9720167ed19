"""`textbridge simulator` runs the provider simulator alone; `textbridge sim` drives one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import typer

from textbridge.cli.common import Option, console, print_response, server_url

app = typer.Typer(help="Drive a running simulator.", no_args_is_help=True)


def simulator(
    host: str = "127.0.0.1",
    port: int = 8900,
    auth_id: Annotated[str, Option(envvar="PLIVO_AUTH_ID")] = "MAXXXXXXXXXXXXXXXXXX",
    auth_token: Annotated[str, Option(envvar="PLIVO_AUTH_TOKEN")] = "sandbox-token",  # noqa: S107
    message_url: Annotated[
        str | None, Option(help="Plivo inbound webhook, e.g. http://HOST/webhooks/plivo/inbound")
    ] = None,
    waba_id: Annotated[str | None, Option(envvar="PLIVO_WABA_ID")] = "sandbox-waba",
    vonage_application_id: Annotated[str | None, Option(envvar="VONAGE_APPLICATION_ID")] = None,
    vonage_private_key_path: Annotated[
        Path | None, Option(envvar="VONAGE_PRIVATE_KEY_PATH", help="Verifies our JWTs")
    ] = None,
    vonage_api_key: Annotated[str | None, Option(envvar="VONAGE_API_KEY")] = None,
    vonage_api_secret: Annotated[str | None, Option(envvar="VONAGE_API_SECRET")] = None,
    vonage_signature_secret: Annotated[str | None, Option(envvar="VONAGE_SIGNATURE_SECRET")] = None,
    vonage_inbound_url: Annotated[str | None, Option(help="Vonage inbound webhook")] = None,
    vonage_status_url: Annotated[str | None, Option(help="Vonage status webhook")] = None,
    tls_dir: Annotated[
        Path | None, Option(help="Serve https with a certificate kept here (Vonage's SDK needs it)")
    ] = None,
    log_level: Annotated[
        str, Option(envvar="TEXTBRIDGE_LOG_LEVEL", help="debug, info, warning or error")
    ] = "info",
) -> None:
    """Run the provider simulator alone: a fake Plivo Message API, and Vonage's Messages API
    when Vonage credentials are given."""
    from textbridge import logging as tb_logging
    from textbridge.simulator import SimulatorConfig
    from textbridge.simulator.serve import serve_simulator

    tb_logging.configure(log_level)
    for secret in (auth_token, vonage_api_secret, vonage_signature_secret):
        tb_logging.register_secret(secret)
    private_key = vonage_private_key_path.read_text() if vonage_private_key_path else None
    config = SimulatorConfig(
        plivo_auth_id=auth_id,
        plivo_auth_token=auth_token,
        plivo_message_url=message_url,
        plivo_waba_id=waba_id,
        vonage_application_id=vonage_application_id,
        vonage_private_key_pem=private_key,
        vonage_api_key=vonage_api_key,
        vonage_api_secret=vonage_api_secret,
        vonage_signature_secret=vonage_signature_secret,
        vonage_inbound_url=vonage_inbound_url,
        vonage_status_url=vonage_status_url,
    )
    if tls_dir is not None:
        console.print(f"https; clients trust {tls_dir / 'ca.pem'}")
    serve_simulator(config, host, port, tls_dir, log_level)


@app.command("inbound")
def sim_inbound(
    from_: Annotated[
        str, Option("--from", help="The contact: a number (E.164), a sender ID or a WhatsApp id")
    ],
    to: Annotated[str, Option("--to", help="Our number, E.164")],
    text: Annotated[str, Option("--text")] = "",
    provider: Annotated[str, Option(help="plivo or vonage")] = "plivo",
    channel: Annotated[str, Option(help="sms, mms (Plivo) or whatsapp")] = "sms",
    media_url: Annotated[str | None, Option(help="An image to attach")] = None,
    url: Annotated[
        str | None, Option(help="Simulator base URL [default: the server's, + /simulator]")
    ] = None,
) -> None:
    """Make the simulator deliver an inbound message to textbridge."""
    body = _inbound_body(provider, channel, from_, to, text, media_url)
    simulator_url = url or f"{server_url()}/simulator"
    response = httpx.post(f"{simulator_url}/control/{provider}/inbound", json=body, timeout=30)
    print_response(response)


def _inbound_body(
    provider: str, channel: str, sender: str, to: str, text: str, media_url: str | None
) -> dict[str, object]:
    body: dict[str, object] = {"from": sender, "to": to, "text": text or None}
    if provider == "vonage":
        body["channel"] = channel
        if media_url:
            body["image"] = {"url": media_url}
        return body
    body["type"] = channel
    if media_url:
        body["media"] = [{"url": media_url, "mime_type": "image/jpeg"}]
    return body
