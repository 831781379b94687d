// Run history, newest first; refreshes itself while runs are in progress. Works at 390 px wide.
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { FINAL_STATUSES, type RunSummary, type WorkflowSummary } from "../api/types";
import { StatusPill } from "../components/StatusPill";
import { duration, timeAgo } from "../lib/format";

const REFRESH_MS = 3000;

export function RunsPage({ workflowId }: { workflowId: string | null }) {
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [names, setNames] = useState<Map<string, string>>(new Map());
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    api.workflows().then((ws: WorkflowSummary[]) => setNames(new Map(ws.map((w) => [w.id, w.name])))).catch(() => {});
  }, []);
  useEffect(() => {
    let timer = 0;
    const load = () => api.runs(workflowId ?? undefined).then((rs) => {
      setRuns(rs);
      setProblem(null);
      if (rs.some((r) => !FINAL_STATUSES.includes(r.status))) timer = window.setTimeout(load, REFRESH_MS);
    }).catch((e: Error) => setProblem(e.message));
    load();
    return () => window.clearTimeout(timer);
  }, [workflowId]);

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
