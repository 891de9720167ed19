"""Plivo's account API, for `doctor` and `providers configure`: the account, our numbers and
the application they are linked to (whose `message_url` receives inbound messages).

The calls and their shapes are those of the official SDK (`plivo/resources/accounts.py`,
`numbers.py`, `applications.py`): paths under `/v1/Account/{auth_id}/` ending with `/`, Basic
auth with the Auth ID and token, reads as GET, writes as POST with a JSON body.
"""

from __future__ import annotations

from typing import Any

import httpx

from textbridge.providers.account import AccountApiError, ProviderClock, call

PROVIDER = "Plivo"


class PlivoAccountApi:
    def __init__(
        self, client: httpx.AsyncClient, base_url: str, auth_id: str, auth_token: str
    ) -> None:
        self._client = client
        self._base = f"{base_url}/{auth_id}"
        self._auth = httpx.BasicAuth(auth_id, auth_token)
        self.clock = ProviderClock()

    async def account(self) -> dict[str, Any]:
        """The account (`GET /v1/Account/{auth_id}/`): a read that proves the credentials."""
        return await self._json("GET", "/")

    async def number(self, number: str) -> dict[str, Any] | None:
        """One of the account's numbers, or None when the account has no such number."""
        try:
            return await self._json("GET", f"/Number/{_digits(number)}/")
        except AccountApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def link_number(self, number: str, app_id: str) -> None:
        await self._json("POST", f"/Number/{_digits(number)}/", {"app_id": app_id})

    async def application(self, app_id: str) -> dict[str, Any] | None:
        try:
            return await self._json("GET", f"/Application/{app_id}/")
        except AccountApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def applications_named(self, app_name: str) -> list[dict[str, Any]]:
        found = await self._json("GET", "/Application/", params={"app_name": app_name})
        objects = found.get("objects") or []
        return [item for item in objects if item.get("app_name") == app_name]

    async def create_application(self, app_name: str, message_url: str, method: str) -> str:
        body = {"app_name": app_name, "message_url": message_url, "message_method": method}
        created = await self._json("POST", "/Application/", body)
        return str(created["app_id"])

    async def update_application(self, app_id: str, message_url: str, method: str) -> None:
        body = {"message_url": message_url, "message_method": method}
        await self._json("POST", f"/Application/{app_id}/", body)

    async def _json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        request = self._client.build_request(
            method, f"{self._base}{path}", json=body, params=params
        )
        response = await call(self._client, self.clock, request, PROVIDER, self._auth)
        data = response.json() if response.content else {}
        if not isinstance(data, dict):
            raise AccountApiError(f"{PROVIDER} answered {path} with something not an object")
        return data


def app_id_of(number: dict[str, Any]) -> str | None:
    """The application a number is linked to: the id at the end of its `application` URI
    (`/v1/Account/MA.../Application/29986316244302815/`)."""
    uri = number.get("application")
    if not uri:
        return None
    return str(uri).rstrip("/").rsplit("/", 1)[-1] or None


def _digits(number: str) -> str:
    return "".join(character for character in number if character.isdigit())
