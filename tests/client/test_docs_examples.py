"""The Python examples of docs/client.md run as written against a real server."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tests.client.sdkutil import SdkFactory

DOC = (Path(__file__).resolve().parents[2] / "docs" / "client.md").read_text(encoding="utf-8")


def _block_after(heading: str) -> str:
    section = DOC[DOC.index(heading):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block after {heading}"
    return match.group(1)


async def test_the_shared_worlds_example_runs_as_written(client: TestClient, sdk: SdkFactory) -> None:
    session = await sdk("ada")
    gen = session.generate("a small farm with a barn and a pond", seed=3, max_instances=150)
    await gen.collect()
    source = "async def example(session, world_id):\n" + textwrap.indent(_block_after("## Shared worlds"), "    ")
    namespace: dict[str, Any] = {}
    exec(compile(source, "docs/client.md", "exec"), namespace)  # noqa: S102 - our own documentation
    await namespace["example"](session, gen.world_id)
    view = await session.join(gen.world_id)
    assert any(i["prefab_id"] == "small_rocks" for i in view.instances.values())
    removed = sorted(i["id"] for i in gen.instances)[2]
    assert removed not in view.instances
