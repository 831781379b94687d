// The current test run, under the canvas: status, progress, failure reason and a link to its page.
import type { Run } from "../api/types";
import { Icon } from "../components/Icon";
import { StatusPill } from "../components/StatusPill";
import { duration } from "../lib/format";

export function RunBar({ run, stepCount, onClose }: { run: Run | null; stepCount: number; onClose: () => void }) {
  const done = run?.steps.filter((s) => s.status === "completed" || s.status === "skipped").length ?? 0;
  return (
    <div className="run-bar" data-testid="run-bar" data-status={run?.status ?? "pending"}>
      <strong>Test run</strong>
      <StatusPill status={run?.status ?? "pending"} />
      <span className="muted">{done} of {stepCount} steps done · {duration(run?.started_at ?? run?.created_at, run?.ended_at)}</span>
      {run?.error && <span className="run-error">{run.error.message}{run.error.hint ? ` — ${run.error.hint}` : ""}</span>}
      <span className="muted small hide-narrow">Click a step to see its input and output.</span>
      <div className="toolbar-spacer" />
      {run && <a href={`#/runs/${run.id}`}>Run details</a>}
      <button className="btn btn-ghost btn-icon" onClick={onClose} aria-label="Close test run"><Icon name="close" /></button>
    </div>
  );
}
