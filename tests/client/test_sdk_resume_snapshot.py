"""Resume with a snapshot: a member too far behind the op log gets the world afresh, no duplicates."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.client.sdkutil import SdkFactory
from tests.client.worldutil import resume_case, stored
from tests.conftest import AppFactory


@pytest.fixture
async def client(make_client: AppFactory) -> TestClient:
    """Op-log retention of one op: missing two forces a snapshot on resume."""
    return await make_client(oplog_retention_ops=1)


async def test_resume_gets_a_snapshot_when_too_far_behind(client: TestClient, sdk: SdkFactory) -> None:
    a_view, b_view, resumed = await resume_case(client, sdk, missed=2)
    assert resumed.mode == "snapshot" and resumed.seq == 3 == b_view.seq
    assert b_view.instances == a_view.instances == await stored(client, a_view.world_id)
