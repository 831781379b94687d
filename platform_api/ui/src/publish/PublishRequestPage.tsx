// One publish request (#/publish-requests/<id>): who asked for which version, what it changes against the version
// live now (both graphs side by side, stacked on a phone, with the changes field by field), and the decision: a
// comment, Approve and Reject, disabled with the reason for one's own request, for roles that cannot decide and
// for a request that is out of date (saying which version is live now).
import { useMemo, useState } from "react";
import { useNodeTypes, useVersion } from "../api/queries";
import type { Graph } from "../api/types";
import { useToast } from "../components/Toasts";
import { createDecorations, EditorContext } from "../editor/context";
import { GraphDiffView } from "../editor/VersionDiff";
import { useDates } from "../lib/dates";
import { ProblemNote } from "../settings/ProblemNote";
import { SecretDialog } from "../triggers/TriggerPanel";
import { useMe } from "../settings/queries";
import { decisionRefusal, STATUS_LABELS, type PublishRequestDetail } from "./api";
import { RequestStatusPill } from "./PublishRequestsPage";
import { useDecide, useRequest } from "./queries";
import "./publish.css";

const EMPTY: Graph = { nodes: [], edges: [] };

function Decision({ request }: { request: PublishRequestDetail }) {
  const { dateTime, ago: timeAgo } = useDates();
  const me = useMe().data;
  const decide = useDecide(request.id);
  const toast = useToast();
  const [comment, setComment] = useState("");
  const refusal = decisionRefusal(me, request);
  const send = (approve: boolean) => decide.mutate({ approve, comment: comment.trim() || null }, {
    onSuccess: (fresh) => {
      setComment("");
      toast(approve ? `Approved: version ${fresh.version} of “${fresh.workflow_name}” is live` : `Rejected version ${fresh.version}`,
        "success", approve ? undefined : `${fresh.requested_by ?? "The requester"} is told, with your comment.`);
    },
  });
  if (request.status === "approved" || request.status === "rejected") {
    return (
      <section className="card decision" aria-label="Decision" data-testid="decision">
        <p><strong>{STATUS_LABELS[request.status]}</strong> by {request.decided_by ?? "someone"}
          {request.decided_at && <span className="muted" title={dateTime(request.decided_at)}> · {timeAgo(request.decided_at)}</span>}</p>
        {request.comment && <blockquote className="decision-comment">{request.comment}</blockquote>}
      </section>
    );
  }
  const busy = decide.isPending;
  return (
    <section className="card decision" aria-label="Decision">
      <label htmlFor="decision-comment">Comment (optional)</label>
      <textarea id="decision-comment" rows={3} maxLength={2000} value={comment} onChange={(e) => setComment(e.target.value)}
        disabled={!!refusal || busy} placeholder={`Why; ${request.requested_by ?? "the requester"} is told`} />
      <ProblemNote error={decide.error} />
      <div className="row decision-actions">
        <button className="btn btn-primary" onClick={() => send(true)} disabled={!!refusal || busy} title={refusal ?? "Publish this version now"}
          aria-describedby={refusal ? "decision-refusal" : undefined}>
          {busy && decide.variables?.approve ? "Approving…" : "Approve and publish"}
        </button>
        <button className="btn btn-secondary" onClick={() => send(false)} disabled={!!refusal || busy} title={refusal ?? "Close it without publishing"}
          aria-describedby={refusal ? "decision-refusal" : undefined}>
          {busy && !decide.variables?.approve ? "Rejecting…" : "Reject"}
        </button>
      </div>
      {refusal && <p className="muted small" id="decision-refusal" data-testid="decision-refusal">{refusal}</p>}
    </section>
  );
}

/** After an approval: where the webhook's secret went and how to get one (it is never shown twice). */
function WebhookNote({ workflowId }: { workflowId: string }) {
  return (
    <div className="callout callout-note" role="note" data-testid="webhook-note">
      <strong>This workflow receives webhooks.</strong>
      <p>Its signing secret is shown only once: to the approver whose approval created the webhook, or to whoever rotates
        it. To get a secret of your own, <a href={`#/workflows/${workflowId}`}>open the workflow</a>, select its trigger
        step and, in the Trigger tab, rotate the secret; the one shown before stops working.</p>
    </div>
  );
}

export function PublishRequestPage({ id }: { id: string }) {
  const { dateTime, ago: timeAgo } = useDates();
  const { data: request, error } = useRequest(id);
  const nodeTypes = useNodeTypes().data;
  const env = useMemo(() => ({ types: new Map((nodeTypes ?? []).map((t) => [t.type, t])), decorations: createDecorations() }), [nodeTypes]);
  const live = request?.live_version ?? undefined;
  const liveGraph = useVersion(request?.workflow_id, live).data?.graph;
  const requested = useVersion(request?.workflow_id, request?.version).data?.graph;
  const before = live === undefined ? (request ? EMPTY : undefined) : liveGraph;
  const diff = useMemo(() => request && { ...request.diff, from_version: live ?? 0, to_version: request.version }, [request, live]);
  return (
    <main className="page publish-request-page">
      <a href="#/publish-requests" className="back-link">← Changes to approve</a>
      <ProblemNote error={error} />
      {!request && !error && <p className="muted">Loading the request…</p>}
      {request && (
        <>
          <div className="page-head">
            <div>
              <h1>{request.workflow_name}: version {request.version}</h1>
              <p className="muted small">
                Asked by {request.requested_by ?? "someone"} <span title={dateTime(request.created_at)}>{timeAgo(request.created_at)}</span>
                {" · "}{live ? `version ${live} is live now` : "nothing is live yet"}
                {" · "}<a href={`#/workflows/${request.workflow_id}`}>Open the workflow</a>
              </p>
            </div>
            <RequestStatusPill status={request.status} />
          </div>
          {request.status === "stale" && (
            <div className="callout callout-warn" role="status" data-testid="stale">
              <strong>Out of date: {live ? `version ${live} was published after this request and is live now` : "another version was published after this request"}.</strong>
              <p>Version {request.version} can no longer be approved. To publish it, ask for approval again from the editor.</p>
            </div>
          )}
          <Decision request={request} />
          {request.status === "approved" && request.has_webhook && <WebhookNote workflowId={request.workflow_id} />}
          <SecretDialog workflowId={request.workflow_id} />
          <section className="version-diff" aria-label="What changes">
            <h2>What changes</h2>
            <EditorContext.Provider value={env}>
              <GraphDiffView diff={diff} before={before} after={requested}
                beforeName={live ? `version ${live} (live)` : "nothing live"} afterName={`version ${request.version}`}
                beforeVersion={live ?? null} afterVersion={request.version}
                triggerNote={<p>Once approved, runs start differently than they do now: check the trigger before you approve.</p>} />
            </EditorContext.Provider>
          </section>
        </>
      )}
    </main>
  );
}
