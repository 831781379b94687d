"""After Prefect was down, the dispatcher does not judge workers by their heartbeats until Prefect has answered
for as long as a worker may stay silent: no live worker could heartbeat meanwhile, and crashing its running
batches would run them a second time (its sends would wait for a person as `needs_attention`)."""

from __future__ import annotations

import time

import httpx

from core.settings import Settings
from engine import dispatcher
from engine.dispatcher import Dispatcher


def test_heartbeats_are_judged_again_only_after_prefect_answered_for_a_silence(tmp_path, monkeypatch):
    settings = Settings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'platform.db'}",
        worker={"heartbeat_seconds": 1},
        dispatcher={"missed_heartbeats": 2, "reconcile_seconds": 0.01},
    )
    judged: list[bool] = []
    prefect_down = True

    def reconcile(db, settings, client, *, judge_heartbeats: bool) -> None:
        if prefect_down:
            raise httpx.ConnectError("All connection attempts failed")
        judged.append(judge_heartbeats)

    monkeypatch.setattr(dispatcher, "reconcile", reconcile)
    passes = Dispatcher(settings)
    passes._client = object()  # type: ignore[assignment]  # what reconcile is handed; this one never calls it

    def one_pass() -> None:
        time.sleep(0.02)  # past reconcile_seconds
        passes._reconcile_if_due()

    one_pass()  # Prefect down: the pass fails
    prefect_down = False
    one_pass()
    one_pass()
    assert judged == [False, False]  # back, but for less than 2 heartbeats of 1 s
    time.sleep(2.1)
    one_pass()
    assert judged[-1] is True


def test_heartbeats_are_judged_when_prefect_never_failed(tmp_path, monkeypatch):
    judged: list[bool] = []
    monkeypatch.setattr(dispatcher, "reconcile", lambda db, s, c, *, judge_heartbeats: judged.append(judge_heartbeats))
    passes = Dispatcher(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'platform.db'}"))
    passes._client = object()  # type: ignore[assignment]
    passes._reconcile_if_due()
    assert judged == [True]
