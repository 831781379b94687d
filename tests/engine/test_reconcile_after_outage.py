"""The dispatcher judges workers by their heartbeats only once Prefect has answered every reconcile pass, each in
time, for as long as a worker may stay silent: while Prefect was down no live worker could heartbeat, and crashing
its running batches would run them a second time (its sends would wait for a person as `needs_attention`)."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
from prefect.client.orchestration import PrefectClient, SyncPrefectClient

from core.settings import Settings
from engine import dispatcher
from engine.dispatcher import Dispatcher
from engine.worker import heartbeat_once

SILENCE = 2.0  # 2 heartbeats of 1 s


class Passes:
    """Reconcile passes of a dispatcher whose reconcile fails while `prefect_down`, and records whether it was
    asked to judge heartbeats."""

    def __init__(self, tmp_path, monkeypatch) -> None:
        settings = Settings(
            home=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'platform.db'}",
            worker={"heartbeat_seconds": 1},
            dispatcher={"missed_heartbeats": 2, "reconcile_seconds": 0.01},
        )
        self.judged: list[bool] = []
        self.prefect_down = False
        monkeypatch.setattr(dispatcher, "reconcile", self._reconcile)
        self.dispatcher = Dispatcher(settings)
        self.dispatcher._client = object()  # type: ignore[assignment]  # handed to reconcile, never called

    def _reconcile(self, db, settings, client, *, judge_heartbeats: bool) -> None:
        if self.prefect_down:
            raise httpx.ConnectError("All connection attempts failed")
        self.judged.append(judge_heartbeats)

    def run_for(self, seconds: float) -> None:
        """A pass every 0.05 s, as the loop makes them: in time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
            self.dispatcher._reconcile_if_due()


@pytest.fixture
def passes(tmp_path, monkeypatch) -> Passes:
    return Passes(tmp_path, monkeypatch)


def test_heartbeats_are_judged_once_passes_succeeded_in_time_for_a_silence(passes):
    passes.run_for(SILENCE / 2)
    assert set(passes.judged) == {False}  # just started: not yet
    passes.run_for(SILENCE)
    assert passes.judged[-1] is True


def test_after_prefect_was_down_heartbeats_wait_for_a_silence_of_answers(passes):
    passes.run_for(SILENCE + 0.5)
    assert passes.judged[-1] is True
    passes.prefect_down = True
    passes.run_for(0.5)
    passes.prefect_down, passes.judged = False, []
    passes.run_for(SILENCE / 2)
    assert set(passes.judged) == {False}  # back, but not for long enough
    passes.run_for(SILENCE)
    assert passes.judged[-1] is True


def test_a_late_pass_counts_as_an_outage(passes):
    """The loop waited on Prefect elsewhere (a dispatch pass in its client's retries): no pass failed, but one
    came late, after more than half the silence."""
    passes.run_for(SILENCE + 0.5)
    assert passes.judged[-1] is True
    time.sleep(SILENCE / 2 + 0.2)
    passes.dispatcher._reconcile_if_due()
    assert passes.judged[-1] is False


class HangsUp:
    """A Prefect that went away mid-answer: it accepts each connection and closes it at once, and counts them."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/api"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


def test_a_reconcile_pass_gives_up_on_an_unanswering_prefect_after_one_retry(tmp_path):
    """Prefect's client would retry five times with back-off (about a minute), and the pass would then judge
    heartbeats that no live worker could send meanwhile. Bounded, the pass fails and the wait starts again."""
    prefect = HangsUp()
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'platform.db'}")
    steady = Dispatcher(settings)
    steady._last_pass_ok_at, steady._steady_since = time.monotonic(), time.monotonic() - 3600
    with SyncPrefectClient(prefect.url) as client:
        steady._client = client
        steady._reconcile_if_due()
    prefect.listener.close()
    assert prefect.connections == 2  # the call and one retry
    assert steady._last_pass_ok_at is None
    assert steady._heartbeats_heard() is False


async def test_a_heartbeat_during_an_outage_is_asked_once_so_the_next_one_comes_on_time():
    """Prefect's client would retry it for up to a minute with back-off, and the first heartbeat after Prefect is
    back would come after the dispatcher judges workers again."""
    prefect = HangsUp()
    async with PrefectClient(prefect.url) as client:

        class Worker:  # what of a worker a heartbeat uses: its client
            async def _sync_and_initialize(self) -> None:
                await client.read_work_pool("flowyard")

        with pytest.raises(httpx.HTTPError):
            await heartbeat_once(Worker())  # type: ignore[arg-type]
    prefect.listener.close()
    assert prefect.connections == 1
