"""REST fuzzing (issue #8, item 2): schemathesis against the OpenAPI document the server
serves, on a real `immersiverse serve` process: no 5xx, and every response matches the
document (status code documented, body matches its schema), for valid and for invalid input. REST_EXAMPLES (default 15)
bounds the examples per operation; `.ci/fuzz` raises it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.serve import ServerProcess  # noqa: E402

EXAMPLES = int(os.environ.get("REST_EXAMPLES", "15"))
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)  # valid and invalid input
SKIP = {
    ("GET", "/ws"),  # the WebSocket upgrade (tests/hardening/test_fuzz_socket.py)
    ("GET", "/metrics"),  # text exposition, covered by test_observability.py
}
FRESH_TOKEN = {("POST", "/api/v1/auth/logout")}  # would revoke the shared token


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    proc = ServerProcess(tmp_path_factory.mktemp("restfuzz"), max_instances=200, default_instances=20,
                         login_attempts_per_min=1_000_000, max_worlds_per_user=1_000_000, log_level="WARNING",
                         auth_requests_per_ip_per_min=1_000_000, auth_requests_per_account_per_min=1_000_000)
    try:
        status, doc = proc.get("/api/v1/openapi.json")
        assert status == 200
        yield proc, doc
    finally:
        proc.stop()


def _operations() -> list[tuple[str, str]]:
    from server import openapi

    return sorted((method.upper(), path) for path, item in openapi.build()["paths"].items() for method in item
                  if (method.upper(), path) not in SKIP)


@pytest.mark.parametrize(("method", "path"), _operations(), ids=[f"{m} {p}" for m, p in _operations()])
def test_no_5xx_and_every_response_matches_the_document(live: tuple[ServerProcess, Any], method: str,
                                                        path: str) -> None:
    proc, doc = live
    schema = schemathesis.openapi.from_dict(doc)
    operation = schema[path][method]
    token = proc.login("fuzzer")
    http = requests.Session()
    seen: dict[int, int] = {}
    failures: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in MODES)), with_token=st.booleans())
    def run(case: Any, with_token: bool) -> None:
        tok = proc.login("fuzzer") if (method, path) in FRESH_TOKEN else token
        headers = {"Authorization": f"Bearer {tok}"} if with_token else {}
        response = case.call(base_url=proc.url, session=http, headers=headers, timeout=30)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                     response_schema_conformance], headers=headers)
        except Exception as exc:  # noqa: BLE001 - collect every failure, report them together
            failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                            f"{str(exc)[:400]}\n  body: {response.text[:300]}")

    run()
    print(f"\n{method} {path}: statuses {dict(sorted(seen.items()))}")
    assert sum(seen.values()) >= 1
    assert not failures, "\n".join(failures[:5])
    assert proc.proc.poll() is None, proc.output()[-3000:]


@pytest.mark.parametrize("path", ["/api/v1/worlds", "/api/v1/publish/experiences", "/api/v1/prefab-catalog/"])
async def test_an_offset_beyond_the_documented_maximum_is_422_not_500(make_client: Any, path: str) -> None:
    """Found by this fuzz: an offset past SQLite's 64-bit integers was a 500 (OverflowError)."""
    from tests.conftest import bearer, login

    client = await make_client()
    token = await login(client)
    for offset in ("16311183052520040448", str(2**31)):
        resp = await client.get(f"{path}?offset={offset}", headers=bearer(token))
        body = await resp.json()
        assert resp.status == 422 and "offset" in body["details"], body
    assert (await client.get(f"{path}?offset={2**31 - 1}", headers=bearer(token))).status == 200
