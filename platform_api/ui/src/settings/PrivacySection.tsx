// Privacy: export everything the workspace owns (with progress, then a download), erase one person everywhere
// the workspace keeps them, and delete the workspace (typed confirmation). Owners only.
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Modal } from "../components/Modal";
import { useToast } from "../components/Toasts";
import { humanize } from "../lib/format";
import { useDates } from "../lib/dates";
import { settingsApi, type Erasure, type ExportJob, type Me } from "./api";
import { saveBlob } from "./download";
import { refusal } from "./permissions";
import { FieldProblem, ProblemNote } from "./ProblemNote";

const POLL_MS = 1000;
const finished = (job: ExportJob | undefined) => !!job && (job.status === "completed" || job.status === "failed");

export function PrivacySection({ me, slug, onDeleted }: { me: Me | undefined; slug: string; onDeleted: () => void }) {
  const locked = refusal(me, "privacy");
  return (
    <>
      <h2>Privacy</h2>
      {locked && <p className="callout callout-info">{locked}</p>}
      <ExportCard locked={locked} />
      <EraseCard locked={locked} />
      <DeleteCard locked={locked} slug={slug} onDeleted={onDeleted} />
    </>
  );
}

function ExportCard({ locked }: { locked: string | null }) {
  const { dateTime } = useDates();
  const [started, setStarted] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const { data: earlier } = useQuery({ queryKey: ["privacy-exports"], queryFn: settingsApi.exports, enabled: !locked });
  const jobId = started ?? earlier?.[0]?.id ?? null; // the one just started, else the latest
  const { data: job, error: pollError } = useQuery({
    queryKey: ["privacy-export", jobId],
    queryFn: () => settingsApi.exportJob(jobId!),
    enabled: !!jobId,
    refetchInterval: (query) => (finished(query.state.data) ? false : POLL_MS),
  });
  const start = async () => {
    setError(null);
    try {
      setStarted((await settingsApi.startExport()).id);
    } catch (failure) {
      setError(failure);
    }
  };
  const download = async () => {
    try {
      saveBlob(await settingsApi.downloadExport(job!.id), "flowyard-export.zip");
    } catch (failure) {
      setError(failure);
    }
  };
  const percent = job && job.total ? Math.round((100 * job.done) / job.total) : 0;
  return (
    <div className="card settings-form" aria-label="Export">
      <h3>Export everything</h3>
      <p className="muted">One bundle of the workspace's workflows and versions, runs and steps, CRM records, templates, connections (without secrets) and audit log.</p>
      {job && !finished(job) && (
        <div role="progressbar" aria-label="Export progress" aria-valuenow={percent} aria-valuemin={0} aria-valuemax={100}>
          <div className="progress"><span style={{ width: `${percent}%` }} /></div>
          <span className="muted small">Preparing… {job.done} of {job.total || "?"}</span>
        </div>
      )}
      {job?.status === "failed" && <div className="callout callout-error" role="alert">The export failed. Start it again; if it fails again, tell your operator.</div>}
      <ProblemNote error={error ?? pollError} />
      <div className="row">
        <button className="btn btn-secondary" onClick={start} disabled={!!locked || (!!job && !finished(job)) || (!!jobId && !job)}
          title={locked ?? undefined}>Start export</button>
        {job?.status === "completed" && (
          <button className="btn btn-primary" onClick={download}>Download the export of {dateTime(job.created_at)}</button>
        )}
      </div>
    </div>
  );
}

function EraseCard({ locked }: { locked: string | null }) {
  const [email, setEmail] = useState("");
  const [result, setResult] = useState<Erasure | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!window.confirm(`Erase ${email.trim()} from this workspace? This cannot be undone.`)) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await settingsApi.erase(email.trim()));
      setEmail("");
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const touched = result ? Object.entries(result.touched) : [];
  return (
    <form className="card settings-form" onSubmit={submit} aria-label="Erase a person">
      <h3>Erase a person</h3>
      <p className="muted">Removes or pseudonymises one email everywhere this workspace keeps it: CRM records, outbox, run inputs, step data and run logs.</p>
      <div className="settings-inline">
        <label>Email
          <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} disabled={!!locked} />
          <FieldProblem error={error} path="email" />
        </label>
        <button className="btn btn-danger" disabled={!!locked || busy} title={locked ?? undefined}>{busy ? "Erasing…" : "Erase"}</button>
      </div>
      <ProblemNote error={error} fields={["email"]} />
      {result && (
        <div className="callout callout-ok" role="status" aria-label="Erased">
          <strong>{touched.some(([, count]) => count > 0) ? "Erased." : "Nothing of them was found."}</strong>
          <ul className="settings-counts">
            {touched.map(([kind, count]) => <li key={kind}>{humanize(kind)}: {count}</li>)}
          </ul>
        </div>
      )}
    </form>
  );
}

function DeleteCard({ locked, slug, onDeleted }: { locked: string | null; slug: string; onDeleted: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <div className="card settings-form settings-danger" aria-label="Delete the workspace">
      <h3>Delete the workspace</h3>
      <p className="muted">Deletes every workflow, run, connection and record, and destroys the workspace's encryption key. There is no undo.</p>
      <div className="row">
        <button className="btn btn-danger" onClick={() => setOpen(true)} disabled={!!locked} title={locked ?? undefined}>Delete workspace…</button>
      </div>
      {open && <DeleteDialog slug={slug} onClose={() => setOpen(false)} onDeleted={onDeleted} />}
    </div>
  );
}

function DeleteDialog({ slug, onClose, onDeleted }: { slug: string; onClose: () => void; onDeleted: () => void }) {
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await settingsApi.deleteWorkspace(typed);
      toast("The workspace was deleted", "success");
      onDeleted();
    } catch (failure) {
      setError(failure);
      setBusy(false);
    }
  };
  const footer = (
    <>
      <button className="btn btn-ghost" onClick={onClose}>Cancel</button>
      <button className="btn btn-danger" onClick={remove} disabled={busy || typed !== slug}>{busy ? "Deleting…" : "Delete for good"}</button>
    </>
  );
  return (
    <Modal title="Delete this workspace?" onClose={onClose} footer={footer}>
      <label className="settings-form">Type <code>{slug}</code> to confirm
        <input value={typed} onChange={(e) => setTyped(e.target.value)} autoFocus aria-label="Workspace to delete" />
        <FieldProblem error={error} path="confirm" />
      </label>
      <ProblemNote error={error} fields={["confirm"]} />
    </Modal>
  );
}
