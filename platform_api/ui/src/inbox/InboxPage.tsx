// The approvals inbox (#/inbox): runs waiting at an approval step that the signed-in person may answer (operators
// and above answer any; others those that name them), each with what its run carries: the workflow, the step, the
// question and the run's data. Approve or reject with a comment; the run goes on at once. Works at 390 px wide.
import { useState } from "react";
import { useToast } from "../components/Toasts";
import { useDates } from "../lib/dates";
import { ProblemNote } from "../settings/ProblemNote";
import { contextRows, type ApprovalItem } from "./api";
import { useDecideApproval, usePendingApprovals } from "./queries";
import "./inbox.css";
import { Loading } from "../components/ListState";

function ApprovalCard({ approval }: { approval: ApprovalItem }) {
  const { dateTime, ago: timeAgo } = useDates();
  const decide = useDecideApproval();
  const toast = useToast();
  const [comment, setComment] = useState("");
  const id = `approval-${approval.id}`;
  const rows = contextRows(approval.run_input);
  const send = (approve: boolean) => decide.mutate(
    { runId: approval.run_id, nodeId: approval.node_id, approve, comment: comment.trim() || null },
    {
      onSuccess: () => toast(approve ? `Approved: “${approval.workflow_name}” goes on` : `Rejected: “${approval.workflow_name}” takes its rejected path`, "success"),
      onError: (error) => toast(error.message, "error", "The inbox shows what still waits."), // e.g. answered by someone else
    },
  );
  const busy = decide.isPending;
  return (
    <li>
      <article className="card approval-card" aria-labelledby={`${id}-title`} data-run-id={approval.run_id} data-testid="approval">
        <header className="approval-head">
          <h2 id={`${id}-title`}>{approval.message}</h2>
          <div className="muted small">
            <a href={`#/workflows/${approval.workflow_id}`}>{approval.workflow_name}</a> · step <strong>{approval.step_label}</strong>
          </div>
          <div className="muted small">
            Asked <span title={dateTime(approval.created_at)}>{timeAgo(approval.created_at)}</span> · answer by {dateTime(approval.expires_at)}
            {" · "}<a href={`#/runs/${approval.run_id}`}>Open the run</a>
          </div>
        </header>
        {rows.length > 0 && (
          <dl className="approval-context" aria-label="The run's data">
            {rows.map((r) => (
              <div key={r.key}><dt>{r.key}</dt><dd>{r.value}</dd></div>
            ))}
          </dl>
        )}
        <label htmlFor={`${id}-comment`}>Comment (optional)</label>
        <textarea id={`${id}-comment`} rows={2} maxLength={2000} value={comment} disabled={busy}
          onChange={(e) => setComment(e.target.value)} placeholder="Why; kept with the run" />
        <ProblemNote error={decide.error} />
        <div className="row decision-actions">
          <button type="button" className="btn btn-primary" onClick={() => send(true)} disabled={busy}>
            {busy && decide.variables?.approve ? "Approving…" : "Approve"}
          </button>
          <button type="button" className="btn btn-secondary" onClick={() => send(false)} disabled={busy}>
            {busy && !decide.variables?.approve ? "Rejecting…" : "Reject"}
          </button>
        </div>
      </article>
    </li>
  );
}

export function InboxPage() {
  const pending = usePendingApprovals();
  const items = pending.data;
  return (
    <main className="page inbox-page">
      <div className="page-head">
        <div>
          <h1>Approvals inbox</h1>
          <p className="muted small">Runs waiting at an approval step that you may answer. The run goes on as soon as you decide.</p>
        </div>
      </div>
      {pending.error && <div className="callout callout-error" role="alert"><strong>{pending.error.message}</strong></div>}
      {!items && !pending.error && <Loading what="approvals" />}
      {items?.length === 0 && (
        <div className="empty card" data-testid="inbox-empty">
          <h2>Nothing waits for you</h2>
          <p className="muted">When a workflow reaches an Approval step that you may answer, it waits here.</p>
          <a className="btn btn-secondary" href="#/runs?status=waiting">See waiting runs</a>
        </div>
      )}
      {!!items?.length && (
        <ul className="list approvals-list" aria-label="Approvals waiting for you">
          {items.map((a) => <ApprovalCard key={a.id} approval={a} />)}
        </ul>
      )}
    </main>
  );
}
