// What an operator can do with one run: cancel it while it is active; retry a failed one (from the failed step
// or the start) and replay an ended one, each after a confirmation that names what acts outside Flowyard again.
import { useState } from "react";
import { FINAL_STATUSES, type Run } from "../api/types";
import { navigate } from "../lib/route";
import { ProblemNote } from "../settings/ProblemNote";
import { useMe } from "../settings/queries";
import { RerunDialog } from "./RerunDialog";
import { useCancelRun, type Rerun } from "./queries";
import "./runs.css";

const NOT_ALLOWED = "Only an operator or above can cancel, retry or replay runs.";

export function RunActions({ run, labelOf }: { run: Run; labelOf: (nodeId: string) => string }) {
  const [rerun, setRerun] = useState<Rerun | null>(null);
  const cancel = useCancelRun(run.id);
  const me = useMe().data;
  const refused = me && !me.permissions.includes("run") ? NOT_ALLOWED : undefined;
  const ended = FINAL_STATUSES.includes(run.status);
  const button = (label: string, next: Rerun, primary = false) => (
    <button className={`btn ${primary ? "btn-primary" : "btn-secondary"}`} disabled={!!refused} title={refused}
      onClick={() => setRerun(next)}>{label}</button>
  );
  return (
    <>
      <div className="run-actions" role="group" aria-label="Run actions">
        {!ended && (
          <button className="btn btn-secondary" disabled={!!refused || cancel.isPending} title={refused}
            onClick={() => cancel.mutate()}>{cancel.isPending ? "Cancelling…" : "Cancel run"}</button>
        )}
        {run.status === "failed" && button("Retry from failed step", { kind: "retry", from: "failed_step" }, true)}
        {run.status === "failed" && button("Retry from start", { kind: "retry", from: "start" })}
        {ended && button("Replay", { kind: "replay", version: run.version })}
      </div>
      <ProblemNote error={cancel.error} />
      {rerun && (
        <RerunDialog run={run} rerun={rerun} labelOf={labelOf} onChange={setRerun} onClose={() => setRerun(null)}
          onStarted={(runId) => {
            setRerun(null);
            navigate(`/runs/${runId}`);
          }} />
      )}
    </>
  );
}
