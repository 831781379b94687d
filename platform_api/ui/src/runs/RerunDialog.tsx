// Confirming a retry or replay: the preview first names the steps that will act outside Flowyard again (emails,
// SMS, posts, CRM writes, HTTP calls) and the steps whose outputs are reused; confirming starts the new run.
import { useVersions } from "../api/queries";
import type { Run } from "../api/types";
import { Modal } from "../components/Modal";
import { ProblemNote } from "../settings/ProblemNote";
import type { RerunPlan } from "./api";
import { useRerunPreview, useStartRerun, type Rerun } from "./queries";

const TITLES = { failed_step: "Retry from the failed step", start: "Retry from the start", replay: "Replay this run" };

function Intro({ rerun, run }: { rerun: Rerun; run: Run }) {
  if (rerun.kind === "replay") return <p>A new run with the same input, every step from the start.</p>;
  if (rerun.from === "start") return <p>A new run of version {run.version} with the same input, every step from the start.</p>;
  return <p>A new run of version {run.version} with the same input, from the step that failed.</p>;
}

function VersionPicker({ run, version, onChange }: { run: Run; version: number; onChange: (version: number) => void }) {
  const versions = useVersions(run.workflow_id).data ?? [];
  const numbers = versions.length ? versions.map((v) => v.version) : [run.version];
  return (
    <label>Version
      <select value={version} onChange={(e) => onChange(Number(e.target.value))}>
        {numbers.map((n) => <option key={n} value={n}>v{n}{n === run.version ? " (this run's)" : ""}</option>)}
      </select>
    </label>
  );
}

function Plan({ plan, labelOf }: { plan: RerunPlan; labelOf: (nodeId: string) => string }) {
  return (
    <>
      <div className="rerun-effects" data-testid="side-effects">
        {plan.side_effects.length === 0
          ? <p><strong>Nothing is sent again:</strong> no step of the new run acts outside Flowyard.</p>
          : (
            <>
              <p><strong>These steps will run again</strong> and act outside Flowyard:</p>
              <ul>{plan.side_effects.map((s) => <li key={s.node_id}>{s.label || labelOf(s.node_id)} — {s.effect}</li>)}</ul>
            </>
          )}
      </div>
      {plan.reused_steps.length > 0 && (
        <div data-testid="reused-steps">
          <p className="muted">Reused from this run (not run again):</p>
          <ul className="muted">{plan.reused_steps.map((id) => <li key={id}>{labelOf(id)}</li>)}</ul>
        </div>
      )}
    </>
  );
}

type Props = {
  run: Run;
  rerun: Rerun;
  labelOf: (nodeId: string) => string;
  onChange: (rerun: Rerun) => void;
  onClose: () => void;
  onStarted: (runId: string) => void;
};

export function RerunDialog({ run, rerun, labelOf, onChange, onClose, onStarted }: Props) {
  const preview = useRerunPreview(run.id, rerun);
  const start = useStartRerun(run.id);
  const title = TITLES[rerun.kind === "retry" ? rerun.from : "replay"];
  const confirm = () => start.mutate(rerun, { onSuccess: (accepted) => onStarted(accepted.run_id) });
  return (
    <Modal title={title} onClose={onClose} footer={
      <>
        <button className="btn btn-ghost" onClick={onClose}>Cancel</button>
        <button className="btn btn-primary" onClick={confirm} disabled={!preview.data || start.isPending}>
          {start.isPending ? "Starting…" : rerun.kind === "retry" ? "Start the retry" : "Start the replay"}
        </button>
      </>
    }>
      <Intro rerun={rerun} run={run} />
      {rerun.kind === "replay" && (
        <VersionPicker run={run} version={rerun.version} onChange={(version) => onChange({ kind: "replay", version })} />
      )}
      {preview.isPending && <p className="muted">Checking what the new run would do…</p>}
      {preview.data && <Plan plan={preview.data} labelOf={labelOf} />}
      <ProblemNote error={preview.error ?? start.error} />
    </Modal>
  );
}
