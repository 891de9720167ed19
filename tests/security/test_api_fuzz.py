"""schemathesis over the app's own OpenAPI document, fetched from the running app: every
operation in it (a route added later is fuzzed without a change here), with schema-valid and
schema-invalid data, each case sent with the admin key, then with no key or an unknown one.

Checks: never a 5xx; with the admin key, a response whose status the document declares
conforms to its schema; without a valid key, a secured operation answers 401; and a refused
request (4xx) leaves the content tables' row counts as they were (the app runs without
background workers, so only the requests write). Derandomized: CI runs the same cases every
time. Over real HTTP, on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.core.transport import Response
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from ..support.database import Database
from ..support.textbridge import API_KEY
from .support import RowCounter, counted_textbridge

EXAMPLES = 4  # per operation and generation mode
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ADMIN = "admin key"
# Each case is sent with the admin key, then without a valid one (no key and an unknown key
# in turn: the two take the same path, the 401 of `require_api_key`).
AUTHS: dict[str, dict[str, str]] = {
    ADMIN: {"Authorization": f"Bearer {API_KEY}"},
    "no key": {},
    "unknown key": {"Authorization": "Bearer tb_not_a_key_0123456789abcdefghijkl"},
}


@dataclass
class Tally:
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    requests: int = 0
    refused: int = 0
    without_negative: int = 0
    by_auth: dict[str, int] = field(default_factory=dict)  # requests sent with each credential
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


class Fuzzer:
    def __init__(self, schema: OpenApiSchema, base_url: str, counter: RowCounter) -> None:
        self.schema = schema
        self.base_url = base_url
        self.counter = counter
        self.session = requests.Session()
        self.tally = Tally()
        self.counts = counter.counts()  # as they were after the last request

    def fuzz_every_operation(self) -> Tally:
        for result in self.schema.get_all_operations():
            operation = result.ok()
            self.tally.operations.add(operation.label)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                self._fuzz(operation, mode)
        return self.tally

    def _fuzz(self, operation: Any, mode: GenerationMode) -> None:
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # a failure is reported, not shrunk
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Case) -> None:
            self.tally.cases += 1
            without = "no key" if self.tally.cases % 2 else "unknown key"
            for auth in (ADMIN, without):
                problem = self._send(case, auth)
                if problem:
                    self.tally.failures.append(f"{operation.label} [{mode}, {auth}]: {problem}")

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            self.tally.without_negative += 1

    def _send(self, case: Case, auth: str) -> str | None:
        headers = {
            name: value
            for name, value in (case.headers or {}).items()
            if name.lower() != "authorization"
        }
        case.headers = {**headers, **AUTHS[auth]}
        try:
            # An event stream is read up to its first event (`max_stream_events`).
            response = case.call(base_url=self.base_url, session=self.session, timeout=30)
        except requests.RequestException as exc:
            return f"no answer: {exc!r} for {case.as_curl_command()}"
        self.tally.requests += 1
        self.tally.by_auth[auth] = self.tally.by_auth.get(auth, 0) + 1
        status = response.status_code
        self.tally.by_status[status] = self.tally.by_status.get(status, 0) + 1
        before, self.counts = self.counts, self.counter.counts()
        return self._judge(case, auth, response, before, self.counts)

    def _judge(
        self,
        case: Case,
        auth: str,
        response: Response,
        before: dict[str, int],
        after: dict[str, int],
    ) -> str | None:
        status = response.status_code
        where = f"{status} for {case.as_curl_command()}: {response.content[:300]!r}"
        if status >= 500:
            return f"server error {where}"
        secured = bool(case.operation.definition.raw.get("security"))
        if auth != ADMIN and secured and not _refused_as_unauthorized(response):
            return f"not refused without a valid key: {where}"
        if 400 <= status < 500:
            self.tally.refused += 1
            if after != before:
                return f"stored from a refused request ({before} -> {after}): {where}"
        if auth == ADMIN:
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except AssertionError as exc:  # schemathesis' failures are AssertionErrors
                return f"response does not conform to the schema: {where}: {exc}"
        return None


def _refused_as_unauthorized(response: Response) -> bool:
    """401 (or 429, a rate limit in front of the key check); or, for a body FastAPI could not
    even parse (it parses before the dependencies that check the key run), the 400 or 422
    that says so and nothing more."""
    if response.status_code in (401, 429):
        return True
    unparsed = (b"JSON decode error", b"There was an error parsing the body")
    return response.status_code in (400, 422) and any(m in response.content for m in unparsed)


def test_every_operation_with_and_without_keys(database: Database, tmp_path: Path) -> None:
    with counted_textbridge(database, tmp_path) as (textbridge, counter):
        document = textbridge.api.get("/openapi.json").json()
        schema = schemathesis.openapi.from_dict(document)
        schema.config.max_stream_events = 1
        tally = Fuzzer(schema, textbridge.url, counter).fuzz_every_operation()
    print(
        f"schemathesis on {database.backend}: {len(tally.operations)} operations, "
        f"{tally.cases} cases, {tally.requests} requests ({tally.refused} refused), "
        f"by credential {dict(sorted(tally.by_auth.items()))}, "
        f"answers {dict(sorted(tally.by_status.items()))}, "
        f"{tally.without_negative} operations with nothing to make invalid, "
        f"{len(tally.failures)} failures"
    )
    assert len(tally.operations) >= 35  # the document was read whole
    in_document = sum(
        method in HTTP_METHODS for item in document["paths"].values() for method in item
    )
    assert len(tally.operations) == in_document, "every operation of the document was fuzzed"
    assert not tally.failures, "\n".join(tally.failures)
