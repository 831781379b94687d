"""Over capacity, the API refuses at once with 429 + Retry-After: a flooding workspace is held to its share
first, so another workspace's requests still get through, then the whole process to its limit."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from core.settings import Settings
from platform_api.app import create_app

MOST, MOST_PER_TENANT = 6, 2


@pytest.fixture
def app(platform_db_url, tmp_path):
    settings = Settings(
        home=tmp_path,
        database_url=platform_db_url,
        dispatcher={"enabled": False},
        prefect={"api_url": "http://127.0.0.1:9/api"},
        api={"max_in_flight": MOST, "max_in_flight_per_tenant": MOST_PER_TENANT, "shed_retry_after_seconds": 2},
    )
    return create_app(settings)


async def _signed_up(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.post(
        "/api/v1/signup",
        json={
            "tenant_name": f"T {uuid.uuid4().hex[:6]}",
            "email": f"{uuid.uuid4().hex[:10]}@example.com",
            "password": "correct horse battery",
        },
    )
    assert answer.status_code == 201, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    assert (await client.get("/api/v1/workflows", headers=headers)).status_code == 200  # now known as its tenant's
    return headers


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _at_once(
    client: httpx.AsyncClient, count: int, headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.get("/api/v1/workflows", headers=headers) for _ in range(count))))


def _assert_shed(answer: httpx.Response, kind: str) -> None:
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "2"
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith("/" + kind)


async def test_a_flooding_workspace_is_held_to_its_share_and_another_still_gets_through(app):
    async with _client(app) as client:
        noisy, quiet = await _signed_up(client), await _signed_up(client)
        flood = asyncio.gather(_at_once(client, 40, noisy), _at_once(client, MOST_PER_TENANT, quiet))
        noisy_answers, quiet_answers = await flood

    assert {a.status_code for a in quiet_answers} == {200}
    assert {a.status_code for a in noisy_answers} == {200, 429}
    for answer in noisy_answers:
        if answer.status_code == 429:
            _assert_shed(answer, "tenant-overloaded")


async def test_over_the_process_limit_new_requests_are_refused_and_the_slots_come_back(app):
    async with _client(app) as client:
        headers = await _signed_up(client)
        anonymous = await _at_once(client, 40)  # no known workspace: only the global limit holds them
        assert {a.status_code for a in anonymous} == {401, 429}
        _assert_shed(next(a for a in anonymous if a.status_code == 429), "overloaded")

        after = await _at_once(client, MOST_PER_TENANT, headers)  # every slot was given back
        assert {a.status_code for a in after} == {200}
        assert (await client.get("/api/v1/health/live")).status_code == 200


async def test_health_and_the_builder_are_never_shed(app):
    async with _client(app) as client:
        answers = await asyncio.gather(*(client.get("/api/v1/health/live") for _ in range(40)))
    assert {a.status_code for a in answers} == {200}
