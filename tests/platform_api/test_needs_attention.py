"""A send that may have gone through (SendGrid took the request, then never answered) is neither repeated nor
failed: the run waits as `needs_attention` until a person checks SendGrid and answers `mark_sent` (the step
completes, nothing is sent) or `send_again` (it is sent once more). On `flowyard up`, with the SendGrid fake."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.fakes.base import Delay
from tests.support import Api, edge, graph, node, sendgrid_connection, steps_by_node

LONGER_THAN_THE_CLIENT_WAITS = 25  # FLOWYARD_INTEGRATIONS__TIMEOUT_SECONDS is 20 on the stack


def _workflow(owner: Api, fake_services) -> str:
    connection = sendgrid_connection(owner, fake_services)
    mail = {"connection": connection, "to": "{{ trigger.to }}", "subject": "Your order", "text": "Hi"}
    flow = graph(
        [
            node("start", "trigger.manual"),
            node("email", "email.sendgrid", mail),
            node("after", "util.log", {"message": "done"}),
        ],
        [edge("start", "email"), edge("email", "after")],
    )
    workflow = owner.post("/api/v1/workflows", json={"name": "Order mail", "graph": flow})
    assert workflow.status_code == 201, workflow.text
    assert owner.post(f"/api/v1/workflows/{workflow.json()['id']}/publish").status_code == 200
    return workflow.json()["id"]


def _wait_for_attention(api: Api, run_id: str, timeout: float = 150) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        if run["status"] == "needs_attention":
            return run
        assert run["status"] in ("pending", "running"), run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never needed attention: {run}")


def test_a_send_that_may_have_gone_through_waits_for_a_person_to_say_whether(stack, fake_services):
    owner = Api(stack.api_url).signup()
    workflow_id = _workflow(owner, fake_services)
    arrived, lost = (f"{word}-{uuid.uuid4().hex[:8]}@example.com" for word in ("arrived", "lost"))
    sent_to = {address: (lambda r, a=address: a in r.text()) for address in (arrived, lost)}
    for match in sent_to.values():
        fake_services.sendgrid.script(match, Delay(LONGER_THAN_THE_CLIENT_WAITS))
    runs = {
        address: owner.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {"to": address}}).json()["run_id"]
        for address in (arrived, lost)
    }

    for address, run_id in runs.items():
        run = _wait_for_attention(owner, run_id)
        assert run["error"]["node_id"] == "email" and run["error"]["maybe_sent"] is True
        assert run["progress"]["current_steps"] == ["email"]
        steps = steps_by_node(run)
        assert steps["email"]["status"] == "failed" and "after" not in steps
        assert len(fake_services.sendgrid.received(sent_to[address])) == 1  # not repeated by itself

    answer = owner.post(f"/api/v1/runs/{runs[arrived]}/attention", json={"resolution": "mark_sent"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"run_id": runs[arrived], "node_id": "email", "resolution": "mark_sent"}
    done = owner.wait_for_run(runs[arrived])
    assert done["status"] == "completed", done
    email = steps_by_node(done)["email"]
    assert email["status"] == "completed" and email["output"]["marked_sent_by"] == owner.signup_body["user"]["email"]
    assert steps_by_node(done)["after"]["status"] == "completed"
    assert len(fake_services.sendgrid.received(sent_to[arrived])) == 1  # marked, not sent

    assert owner.post(f"/api/v1/runs/{runs[lost]}/attention", json={"resolution": "send_again"}).status_code == 200
    done = owner.wait_for_run(runs[lost])
    assert done["status"] == "completed", done
    assert steps_by_node(done)["email"]["output"]["status_code"] == 202
    assert len(fake_services.sendgrid.received(sent_to[lost])) == 2  # the person chose to send it again

    again = owner.post(f"/api/v1/runs/{runs[lost]}/attention", json={"resolution": "send_again"})
    assert again.status_code == 409 and again.json()["type"].endswith("/run-not-needing-attention")
    unknown = owner.post(f"/api/v1/runs/{runs[lost]}/attention", json={"resolution": "retry"})
    assert unknown.status_code == 422
    stranger = Api(stack.api_url).signup()
    assert stranger.post(f"/api/v1/runs/{runs[lost]}/attention", json={"resolution": "mark_sent"}).status_code == 404
    audited = owner.get("/api/v1/audit", params={"action": "run.attention_resolved"}).json()
    assert sorted(e["detail"]["resolution"] for e in audited) == ["mark_sent", "send_again"]
