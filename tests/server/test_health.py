from aiohttp.test_utils import TestClient


async def test_health_needs_no_token(client: TestClient) -> None:
    resp = await client.get("/health")
    assert resp.status == 200
    assert (await resp.json())["status"] == "healthy"


async def test_ready_checks_the_store_and_reports_the_catalog(client: TestClient) -> None:
    resp = await client.get("/ready")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["store"] == "ok" and body["prefabs"] >= 150
