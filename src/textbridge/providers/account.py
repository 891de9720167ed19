"""What the providers' account API clients share (`plivo.account`, `vonage.account`): the one
error they raise, and the provider's clock read from each answer's `Date` header.

These clients serve `textbridge doctor` and `textbridge providers configure`, never the send
path: they read and change the account's set-up (numbers, applications, webhook URLs).
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx


class AccountApiError(Exception):
    """A provider's account API refused a call or could not be reached. `status` is the HTTP
    status (None when no answer came); the message never holds a credential."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def refused_credentials(self) -> bool:
        return self.status in (401, 403)


class ProviderClock:
    """The time the provider's last answer was sent, from its `Date` header."""

    def __init__(self) -> None:
        self.last: datetime | None = None

    def read(self, response: httpx.Response) -> None:
        # Behind some servers the header appears twice (the server's, then the app's): the
        # last one is the application's own.
        values = response.headers.get_list("date")
        try:
            self.last = parsedate_to_datetime(values[-1]) if values else self.last
        except (TypeError, ValueError):
            return


async def call(
    client: httpx.AsyncClient,
    clock: ProviderClock,
    request: httpx.Request,
    provider: str,
    auth: httpx.Auth,
) -> httpx.Response:
    """Send `request`, read the clock, and turn a failure into an `AccountApiError`."""
    try:
        response = await client.send(request, auth=auth)
    except httpx.HTTPError as exc:
        raise AccountApiError(f"cannot reach {provider} at {request.url.host}: {exc!r}") from None
    clock.read(response)
    if response.is_error:
        raise AccountApiError(_refusal(response, provider), response.status_code)
    return response


def _refusal(response: httpx.Response, provider: str) -> str:
    """The provider's own words: Plivo's `error`, Vonage's `title`/`detail`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    words = ""
    if isinstance(body, dict):
        words = str(body.get("error") or body.get("detail") or body.get("title") or "")
    path = response.request.url.path
    return f"{provider} answered {response.status_code} to {path}" + (f": {words}" if words else "")
