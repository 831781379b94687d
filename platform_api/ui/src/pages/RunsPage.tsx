// Run history, newest first; refreshes itself while runs are in progress. Works at 390 px wide.
import { useMemo } from "react";
import { useRuns, useWorkflows } from "../api/queries";
import { StatusPill } from "../components/StatusPill";
import { duration, timeAgo } from "../lib/format";

export function RunsPage({ workflowId }: { workflowId: string | null }) {
  const { data: runs, error } = useRuns(workflowId);
  const workflows = useWorkflows().data;
  const names = useMemo(() => new Map(workflows?.map((w) => [w.id, w.name])), [workflows]);
  const problem = error?.message;

  const title = workflowId ? `Runs of ${names.get(workflowId) ?? "this workflow"}` : "Runs";
  return (
    <main className="page">
      <div className="page-head">
        <h1>{title}</h1>
        {workflowId && <a href="#/runs">All runs</a>}
      </div>
      {problem && <div className="callout callout-error">{problem}</div>}
      {runs?.length === 0 && <div className="empty card"><h2>No runs yet</h2><p className="muted">Open a workflow and press Test run to see it work.</p></div>}
      <ul className="list runs-list">
        {runs?.map((run) => (
          <li key={run.id}>
            <a className="list-item run-item" href={`#/runs/${run.id}`} data-run-id={run.id}>
              <StatusPill status={run.status} />
              <div className="run-main">
                <strong>{names.get(run.workflow_id) ?? "Workflow"}</strong>
                <div className="muted small">
                  {run.mode === "test" ? "Test" : "Live"} · v{run.version} · {timeAgo(run.created_at)} · {duration(run.started_at, run.ended_at)}
                </div>
                {run.error && <div className="run-error small">{run.error.message}</div>}
              </div>
            </a>
          </li>
        ))}
      </ul>
    </main>
  );
}
