// "Changes to approve" (#/publish-requests): where publishing needs approval, the versions that wait for an owner or
// admin, and what was decided; filtered by state (kept in the address), newest first, a page at a time. Works at
// 390 px wide. One request opens at #/publish-requests/<id>.
import { useState } from "react";
import { useDates } from "../lib/dates";
import { replaceRoute } from "../lib/route";
import { useMe } from "../settings/queries";
import { REQUEST_STATUSES, STATUS_LABELS, statusFilter, type PublishRequest, type RequestStatus } from "./api";
import { useRequests } from "./queries";
import "./publish.css";
import { Loading } from "../components/ListState";

export function RequestStatusPill({ status }: { status: RequestStatus }) {
  return <span className={`pill pill-request-${status}`} data-status={status}>{STATUS_LABELS[status]}</span>;
}

function RequestItem({ request }: { request: PublishRequest }) {
  const { dateTime, ago: timeAgo } = useDates();
  const live = request.live_version ? `live now: v${request.live_version}` : "nothing live yet";
  return (
    <li>
      <a className="list-item request-item" href={`#/publish-requests/${request.id}`} data-request-id={request.id}
        data-status={request.status} aria-label={`${request.workflow_name}, version ${request.version}, ${STATUS_LABELS[request.status]}`}>
        <RequestStatusPill status={request.status} />
        <div className="request-main">
          <strong>{request.workflow_name}</strong> <span className="tag">version {request.version}</span>
          <div className="muted small">
            Asked by {request.requested_by ?? "someone"} · <span title={dateTime(request.created_at)}>{timeAgo(request.created_at)}</span> · {live}
          </div>
          {request.decided_by && (
            <div className="muted small">{STATUS_LABELS[request.status]} by {request.decided_by}{request.comment ? `: “${request.comment}”` : ""}</div>
          )}
        </div>
      </a>
    </li>
  );
}

const FILTERS: (RequestStatus | "all")[] = [...REQUEST_STATUSES, "all"];

export function PublishRequestsPage({ search }: { search: URLSearchParams }) {
  const [status, setStatus] = useState(() => statusFilter(search.get("status")));
  const change = (next: RequestStatus | "all") => {
    setStatus(next);
    replaceRoute(next === "pending" ? "/publish-requests" : `/publish-requests?status=${next}`);
  };
  const me = useMe().data;
  const list = useRequests(status);
  const requests = list.data?.pages.flatMap((p) => p.requests);
  const reviewer = me?.role === "owner" || me?.role === "admin";
  return (
    <main className="page publish-requests-page">
      <div className="page-head">
        <div>
          <h1>Changes to approve</h1>
          <p className="muted small">
            Where publishing needs approval, a version goes live only once an owner or admin approves it.
            {me && !reviewer && " You can follow what waits and what was decided; owners and admins decide."}
          </p>
        </div>
      </div>
      <div className="status-chips" role="group" aria-label="Status">
        {FILTERS.map((s) => (
          <button key={s} type="button" className="btn btn-chip" aria-pressed={status === s} onClick={() => change(s)}>
            {s === "all" ? "All" : STATUS_LABELS[s]}
          </button>
        ))}
      </div>
      {list.error && <div className="callout callout-error" role="alert"><strong>{list.error.message}</strong></div>}
      {!requests && !list.error && <Loading what="publish requests" />}
      {requests?.length === 0 && (
        <div className="empty card">
          <h2>{status === "pending" ? "Nothing waits for approval" : "No requests here"}</h2>
          <p className="muted">When someone who may not publish directly presses Request publish, the version waits here.</p>
          <a className="btn btn-secondary" href="#/">Back to workflows</a>
        </div>
      )}
      <ul className="list requests-list" aria-label="Publish requests">
        {requests?.map((r) => <RequestItem key={r.id} request={r} />)}
      </ul>
      {list.hasNextPage && (
        <button className="btn btn-secondary load-more" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          {list.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </main>
  );
}
