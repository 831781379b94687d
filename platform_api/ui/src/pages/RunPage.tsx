// One run's progress, live: where it is now and when it should finish (or its place in the queue, or what it
// waits for), a timeline of its steps, every step with its status, timing, input, output and error (its kind,
// what to do, the help page); the run it retries, where a cancelled one stopped, and the acts on it.
import { useVersion, useWorkflow } from "../api/queries";
import type { Run, Step } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { StatusPill } from "../components/StatusPill";
import { StepDetails } from "../components/StepDetails";
import { duration } from "../lib/format";
import { useDates } from "../lib/dates";
import { useRun } from "../lib/useRun";
import { AttentionPanel } from "../runs/AttentionPanel";
import { RunActions } from "../runs/RunActions";
import { RunProgressNote, RunTimeline } from "../runs/RunProgress";
import { TRIGGERS } from "../runs/api";

function StepCard({ step, label }: { step: Step; label: string }) {
  return (
    <li className="step-card" data-status={step.status} data-node-id={step.node_id}>
      <details open={step.status === "failed"}>
        <summary>
          <span className={`dot status-${step.status}`} />
          <strong>{label}</strong>
          <span className="muted small">{duration(step.started_at, step.ended_at)}</span>
          <StatusPill status={step.status} />
        </summary>
        <StepDetails step={step} />
      </details>
    </li>
  );
}

/** "Retry of <run>" when it retries or replays another run, and where a cancelled run stopped. */
function Lineage({ run, labelOf }: { run: Run; labelOf: (nodeId: string) => string }) {
  return (
    <>
      {run.retry_of && (
        <p className="run-lineage" data-testid="retry-of">
          {run.trigger === "replay" ? "Replay of" : "Retry of"}{" "}
          <a href={`#/runs/${run.retry_of}`}>run {run.retry_of.slice(0, 8)}</a>
        </p>
      )}
      {run.status === "cancelled" && (
        <div className="callout callout-warn" data-testid="stopped-at">
          {run.stopped_at
            ? <>Cancelled. Stopped at <strong>{labelOf(run.stopped_at)}</strong>: no later step ran.</>
            : "Cancelled before its first step ran."}
        </div>
      )}
    </>
  );
}

const triggerLabel = (trigger: string) => TRIGGERS.find((t) => t.value === trigger)?.label ?? trigger;

export function RunPage({ id }: { id: string }) {
  const { dateTime, clock, zone } = useDates();
  const { run, problem } = useRun(id);
  const graph = useVersion(run?.workflow_id, run?.version).data?.graph;
  const workflowName = useWorkflow(run?.workflow_id).data?.name ?? "";

  if (problem) return <main className="page"><div className="callout callout-error">{problem}</div></main>;
  if (!run) return <main className="page muted">Loading the run…</main>;
  const labelOf = (nodeId: string) => graph?.nodes.find((n) => n.id === nodeId)?.label || nodeId;
  const total = graph?.nodes.length ?? run.steps.length;
  const done = run.steps.filter((s) => s.status === "completed" || s.status === "skipped").length;
  return (
    <main className="page run-page">
      <a href={`#/runs?workflow=${run.workflow_id}`} className="small">← Runs of {workflowName || "this workflow"}</a>
      <div className="page-head">
        <h1>{workflowName || "Run"}</h1>
        <StatusPill status={run.status} />
      </div>
      <RunActions run={run} labelOf={labelOf} />
      <Lineage run={run} labelOf={labelOf} />
      <div className="card run-summary">
        <div><span className="muted small">Mode</span><strong>{run.mode === "test" ? "Test" : "Live"} · v{run.version} · {triggerLabel(run.trigger)}</strong></div>
        <div><span className="muted small">Started</span><strong data-testid="run-started" data-zone={zone}>{dateTime(run.started_at ?? run.created_at)}</strong></div>
        <div><span className="muted small">Duration</span><strong>{duration(run.started_at, run.ended_at)}</strong></div>
        <div><span className="muted small">Progress</span><strong>{done} of {total} steps</strong></div>
        <div className="progress" aria-hidden="true"><span style={{ width: `${total ? (100 * done) / total : 0}%` }} /></div>
      </div>
      <RunProgressNote run={run} labelOf={labelOf} />
      <AttentionPanel run={run} labelOf={labelOf} />
      {run.error && <ErrorNote error={run.error} prefix={run.error.node_id ? `${labelOf(run.error.node_id)}: ` : ""} />}
      {run.steps.some((s) => s.started_at) && <h2>Timeline</h2>}
      <RunTimeline run={run} labelOf={labelOf} />
      <h2>Steps</h2>
      {run.steps.length === 0 && <p className="muted">Waiting for the first step to start…</p>}
      <ul className="steps">{run.steps.map((s) => <StepCard key={s.node_id} step={s} label={labelOf(s.node_id)} />)}</ul>
      {run.logs?.length > 0 && (
        <>
          <h2>Log</h2>
          <pre className="logs">{run.logs.map((l) => `${clock(l.timestamp)}  ${l.level.padEnd(7)} ${l.message}`).join("\n")}</pre>
        </>
      )}
    </main>
  );
}
