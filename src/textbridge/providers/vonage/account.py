"""Vonage's account APIs, for `doctor` and `providers configure`: the balance (a read that
proves the credentials), the numbers we own and the application each is linked to, and the
application's Messages webhooks.

As the official SDK calls them (`vonage_account/account.py`, `vonage_numbers/
number_management.py`, `vonage_application/application.py`): balance and numbers on the REST
host (`rest.nexmo.com`), the Application API v2 on the API host; all with Basic auth of the
account's API key and secret (the application's JWT is not accepted there). A number update
answers 200 with Vonage's own `error-code`, `200` meaning success.
"""

from __future__ import annotations

from typing import Any

import httpx

from textbridge.providers.account import AccountApiError, ProviderClock, call

PROVIDER = "Vonage"
PAGE_SIZE = 100


class VonageAccountApi:
    def __init__(
        self,
        client: httpx.AsyncClient,
        api_base_url: str,
        rest_base_url: str,
        api_key: str,
        api_secret: str,
    ) -> None:
        self._client = client
        self._api = api_base_url
        self._rest = rest_base_url
        self._auth = httpx.BasicAuth(api_key, api_secret)
        self.clock = ProviderClock()

    async def balance(self) -> dict[str, Any]:
        return await self._json("GET", f"{self._rest}/account/get-balance")

    async def numbers(self) -> dict[str, dict[str, Any]]:
        """Every number of the account, by its digits (`msisdn`), page by page."""
        owned: dict[str, dict[str, Any]] = {}
        index = 1
        while True:
            params = {"size": str(PAGE_SIZE), "index": str(index)}
            page = await self._json("GET", f"{self._rest}/account/numbers", params=params)
            for number in page.get("numbers") or []:
                owned[str(number.get("msisdn"))] = number
            if int(page.get("count") or 0) <= PAGE_SIZE * index:
                return owned
            index += 1

    async def link_number(self, msisdn: str, country: str, app_id: str) -> None:
        form = {"country": country, "msisdn": msisdn, "app_id": app_id}
        answer = await self._json("POST", f"{self._rest}/number/update", form=form)
        if str(answer.get("error-code")) != "200":
            label = answer.get("error-code-label") or "no reason given"
            raise AccountApiError(f"{PROVIDER} refused to link {msisdn}: {label}", 200)

    async def application(self, application_id: str) -> dict[str, Any] | None:
        try:
            return await self._json("GET", f"{self._api}/v2/applications/{application_id}")
        except AccountApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def update_application(self, application_id: str, body: dict[str, Any]) -> None:
        await self._json("PUT", f"{self._api}/v2/applications/{application_id}", body)

    async def _json(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request = self._client.build_request(method, url, json=body, params=params, data=form)
        response = await call(self._client, self.clock, request, PROVIDER, self._auth)
        data = response.json() if response.content else {}
        if not isinstance(data, dict):
            raise AccountApiError(f"{PROVIDER} answered {url} with something not an object")
        return data


def messages_webhooks(application: dict[str, Any]) -> dict[str, str | None]:
    """The application's Messages `inbound_url` and `status_url` addresses (None when unset)."""
    capability = (application.get("capabilities") or {}).get("messages") or {}
    webhooks = capability.get("webhooks") or {}
    return {
        kind: (webhooks.get(f"{kind}_url") or {}).get("address") or None
        for kind in ("inbound", "status")
    }


def messages_version(application: dict[str, Any]) -> str | None:
    capability = (application.get("capabilities") or {}).get("messages") or {}
    version = capability.get("version")
    return str(version) if version else None
