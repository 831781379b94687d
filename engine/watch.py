"""Watching every workspace against its alert rules (`notifications.rules`): an alert is raised once when a
rule fires for a subject (a workflow, a step, the queue) and resolved once when it no longer does; each
change tells the workspace's owners and admins (`notifications.alerts`).

Rates and durations come from the reports' rollups (`store.reports`), so a window is whole hours, the
current one included. The dispatcher runs `watch` every `dispatcher.watch_seconds`."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateName
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from blocks.registry import ACTIONS
from notifications.alerts import alert_changed, send_alert_mails
from notifications.rules import AlertRule, AlertRules
from store import (
    Alert,
    AlertStatus,
    Execution,
    ExecutionStatus,
    RunRollup,
    StepRollup,
    Tenant,
    Workflow,
    WorkflowVersion,
    utcnow,
)
from store.reports import Grain, merge, percentile

log = logging.getLogger("flowyard.watch")
BASELINE = timedelta(days=7)
WAITING_TO_START = (ExecutionStatus.QUEUED, ExecutionStatus.BATCHED)


@dataclass(frozen=True)
class Firing:
    tenant_id: str
    rule: AlertRule
    subject: str
    title: str
    detail: str
    value: dict[str, Any]
    workflow_id: str | None = None


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _rules(db: Session) -> dict[str, AlertRules]:
    rows = db.execute(select(Tenant.id, Tenant.alert_rules))
    return {tenant_id: AlertRules.model_validate(rules or {}) for tenant_id, rules in rows}


def _names(db: Session, workflow_ids: Iterable[str]) -> dict[str, str]:
    ids = list(set(workflow_ids))
    return dict(db.execute(select(Workflow.id, Workflow.name).where(Workflow.id.in_(ids))).all()) if ids else {}


def _hourly_runs(db: Session, since: datetime) -> list[RunRollup]:
    query = select(RunRollup).where(RunRollup.grain == Grain.HOUR, RunRollup.start >= _hour(since))
    return list(db.scalars(query))


def _hourly_steps(db: Session, since: datetime) -> list[StepRollup]:
    return list(db.scalars(select(StepRollup).where(StepRollup.hour >= _hour(since))))


def _failure_rate(db: Session, rules: dict[str, AlertRules], now: datetime) -> list[Firing]:
    longest = max((r.failure_rate.window_hours for r in rules.values()), default=1)
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in _hourly_runs(db, now - timedelta(hours=longest - 1)):
        own = rules.get(row.tenant_id)
        if own and row.start >= _hour(now) - timedelta(hours=own.failure_rate.window_hours - 1):
            totals[(row.tenant_id, row.workflow_id)][0] += row.runs
            totals[(row.tenant_id, row.workflow_id)][1] += row.failed
    names = _names(db, (workflow_id for _, workflow_id in totals))
    firing = []
    for (tenant_id, workflow_id), (runs, failed) in totals.items():
        rule = rules[tenant_id].failure_rate
        percent = 100 * failed / runs if runs else 0
        if rule.enabled and runs >= rule.min_runs and percent > rule.percent:
            name = names.get(workflow_id, "a workflow")
            firing.append(
                Firing(
                    tenant_id,
                    AlertRule.FAILURE_RATE,
                    workflow_id,
                    f"'{name}' is failing: {percent:.0f}% of runs",
                    f"{failed} of {runs} runs failed in the last {rule.window_hours} h (the limit is {rule.percent:g}%).",
                    {"percent": round(percent, 1), "runs": runs, "failed": failed, "limit": rule.percent},
                    workflow_id,
                )  # fmt: skip
            )
    return firing


def _slow_runs(db: Session, rules: dict[str, AlertRules], now: datetime) -> list[Firing]:
    recent: dict[tuple[str, str], list[RunRollup]] = defaultdict(list)
    baseline: dict[tuple[str, str], list[RunRollup]] = defaultdict(list)
    for row in _hourly_runs(db, now - BASELINE):
        own = rules.get(row.tenant_id)
        if own is None or not own.slow_runs.enabled:
            continue
        window_start = _hour(now) - timedelta(hours=own.slow_runs.window_hours - 1)
        (recent if row.start >= window_start else baseline)[(row.tenant_id, row.workflow_id)].append(row)
    names = _names(db, (workflow_id for _, workflow_id in recent))
    firing = []
    for (tenant_id, workflow_id), rows in recent.items():
        rule = rules[tenant_id].slow_runs
        before = baseline.get((tenant_id, workflow_id), [])
        if sum(r.runs for r in rows) < rule.min_runs or sum(r.runs for r in before) < rule.min_runs:
            continue
        p95, usual = (percentile(merge(*(r.durations for r in group)), 0.95) for group in (rows, before))
        if p95 and usual and p95 > rule.factor * usual:
            name = names.get(workflow_id, "a workflow")
            firing.append(
                Firing(
                    tenant_id,
                    AlertRule.SLOW_RUNS,
                    workflow_id,
                    f"'{name}' is slow: p95 {p95 / 1000:.1f} s",
                    f"Its runs' p95 duration is {p95 / usual:.1f}x its 7-day p95 ({usual / 1000:.1f} s).",
                    {"p95_ms": p95, "baseline_p95_ms": usual, "factor": rule.factor},
                    workflow_id,
                )  # fmt: skip
            )
    return firing


def _queue_age(db: Session, rules: dict[str, AlertRules], now: datetime) -> list[Firing]:
    oldest = db.execute(
        select(Execution.tenant_id, func.min(Execution.created_at))
        .where(Execution.status.in_(WAITING_TO_START))
        .group_by(Execution.tenant_id)
    ).all()
    firing = []
    for tenant_id, created_at in oldest:
        own = rules.get(tenant_id)
        minutes = (now - created_at).total_seconds() / 60
        if own and own.queue_age.enabled and minutes > own.queue_age.minutes:
            firing.append(
                Firing(
                    tenant_id,
                    AlertRule.QUEUE_AGE,
                    "queue",
                    f"Runs have waited {minutes:.0f} min to start",
                    f"The oldest run waiting to start was accepted {minutes:.0f} minutes ago (the limit is "
                    f"{own.queue_age.minutes}). Workers may be down or busy, or a conflict policy holds runs.",
                    {"minutes": round(minutes), "limit": own.queue_age.minutes},
                )  # fmt: skip
            )
    return firing


def _integration_nodes(db: Session, workflow_ids: set[str]) -> dict[tuple[str, str], str]:
    """(workflow, node) -> the node's label, for the integration steps of each workflow's latest version."""
    rows = db.execute(
        select(WorkflowVersion.workflow_id, WorkflowVersion.graph)
        .join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
        .where(Workflow.id.in_(list(workflow_ids)), WorkflowVersion.version == Workflow.latest_version)
    )
    return {
        (workflow_id, node["id"]): node.get("label") or node["id"]
        for workflow_id, graph in rows
        for node in (graph or {}).get("nodes", [])
        if node.get("type") in ACTIONS
    }


def _integration_failing(db: Session, rules: dict[str, AlertRules], now: datetime) -> list[Firing]:
    longest = max((r.integration_failing.window_hours for r in rules.values()), default=1)
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in _hourly_steps(db, now - timedelta(hours=longest - 1)):
        own = rules.get(row.tenant_id)
        if (
            own
            and own.integration_failing.enabled
            and row.hour >= _hour(now) - timedelta(hours=own.integration_failing.window_hours - 1)
        ):
            totals[(row.tenant_id, row.workflow_id, row.node_id)][0] += row.runs
            totals[(row.tenant_id, row.workflow_id, row.node_id)][1] += row.failures
    suspects = {key: counts for key, counts in totals.items() if counts[0] == counts[1]}
    labels = _integration_nodes(db, {workflow_id for _, workflow_id, _ in suspects})
    names = _names(db, (workflow_id for _, workflow_id, _ in suspects))
    firing = []
    for (tenant_id, workflow_id, node_id), (_, failures) in suspects.items():
        rule = rules[tenant_id].integration_failing
        label = labels.get((workflow_id, node_id))
        if label and failures >= rule.failures:
            firing.append(
                Firing(
                    tenant_id,
                    AlertRule.INTEGRATION_FAILING,
                    f"{workflow_id}:{node_id}",
                    f"'{label}' in '{names.get(workflow_id, 'a workflow')}' keeps failing",
                    f"It failed {failures} times in the last {rule.window_hours} h without "
                    "one success. Check its connection and the service's status.",
                    {"failures": failures, "limit": rule.failures},
                    workflow_id,
                )  # fmt: skip
            )
    return firing


def _missed_schedules(db: Session, rules: dict[str, AlertRules], late: list[tuple[str, datetime]]) -> list[Firing]:
    """`late`: (deployment id, scheduled time) of the flow runs Prefect marked Late."""
    first_late: dict[str, datetime] = {}
    for deployment_id, scheduled in late:
        first_late[deployment_id] = min(scheduled, first_late.get(deployment_id, scheduled))
    workflows = db.execute(
        select(Workflow.id, Workflow.tenant_id, Workflow.name, Workflow.deployment_id).where(
            Workflow.deployment_id.in_(list(first_late))
        )
    ).all()
    return [
        Firing(
            tenant_id,
            AlertRule.MISSED_SCHEDULE,
            workflow_id,
            f"'{name}' missed its schedule",
            f"Its run scheduled for {first_late[deployment_id]:%Y-%m-%d %H:%M} UTC has not started. "
            "Check that a worker is running.",
            {"scheduled_at": first_late[deployment_id].isoformat()},
            workflow_id,
        )  # fmt: skip
        for workflow_id, tenant_id, name, deployment_id in workflows
        if deployment_id and tenant_id in rules and rules[tenant_id].missed_schedule.enabled
    ]


def _settle(db: Session, firing: list[Firing], watched: set[AlertRule]) -> tuple[int, int]:
    """Open an alert per new firing, resolve each open one of a watched rule that no longer fires."""
    now = utcnow()
    open_alerts = {
        (a.tenant_id, a.rule, a.subject): a for a in db.scalars(select(Alert).where(Alert.status == AlertStatus.OPEN))
    }
    raised = resolved = 0
    mails = []
    for fire in firing:
        alert = open_alerts.pop((fire.tenant_id, fire.rule, fire.subject), None)
        if alert is not None:
            alert.value = fire.value  # still firing: no new message
            continue
        alert = Alert(
            tenant_id=fire.tenant_id, rule=fire.rule, subject=fire.subject, workflow_id=fire.workflow_id,
            title=fire.title, detail=fire.detail, value=fire.value, status=AlertStatus.OPEN, created_at=now,
        )  # fmt: skip
        db.add(alert)
        db.flush()
        mails.append(alert_changed(db, alert))
        raised += 1
    for alert in open_alerts.values():
        if alert.rule in watched:
            alert.status, alert.resolved_at = AlertStatus.RESOLVED, now
            mails.append(alert_changed(db, alert))
            resolved += 1
    db.commit()
    if any(mails):
        asyncio.run(send_alert_mails([mail for mail in mails if mail]))
    return raised, resolved


def watch(
    db: Session, *, now: datetime | None = None, late: list[tuple[str, datetime]] | None = None
) -> tuple[int, int]:
    """One look at every workspace; returns the alerts raised and resolved. `late` (from Prefect) None: the
    missed-schedule rule is not looked at this time, and its open alerts stay open."""
    now = now or utcnow()
    rules = _rules(db)
    firing = [
        *_failure_rate(db, rules, now),
        *_slow_runs(db, rules, now),
        *_queue_age(db, rules, now),
        *_integration_failing(db, rules, now),
        *(_missed_schedules(db, rules, late) if late is not None else []),
    ]
    watched = set(AlertRule) - (set() if late is not None else {AlertRule.MISSED_SCHEDULE})
    return _settle(db, firing, watched)


def late_flow_runs(client: SyncPrefectClient, most: int = 200) -> list[tuple[str, datetime]]:
    """(deployment id, scheduled time) of the flow runs Prefect marked Late: scheduled, and not started."""
    late = FlowRunFilter(state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Late"])))
    return [
        (str(run.deployment_id), run.expected_start_time or utcnow())
        for run in client.read_flow_runs(flow_run_filter=late, limit=most)
        if run.deployment_id
    ]
