// Run history, newest first, found by a value in the runs' input (an email, an order id) and filtered by status
// (with counts), workflow, mode, trigger and creation days, a page at a time; refreshed live when any run of the
// workspace changes. Works at 390 px wide.
import { useMemo, useState } from "react";
import { useWorkflows } from "../api/queries";
import type { RunSummary } from "../api/types";
import { StatusPill } from "../components/StatusPill";
import { duration } from "../lib/format";
import { useDates } from "../lib/dates";
import { RunFiltersBar } from "../runs/RunFilters";
import { RunSearch } from "../runs/RunSearch";
import { filtersFromSearch, filtersToSearch, NO_FILTERS, TRIGGERS, type RunFilters } from "../runs/api";
import { useRunCounts, useRunsList, useRunsLive } from "../runs/queries";
import "../runs/runs.css";
import { EmptyState, Loading } from "../components/ListState";

const triggerLabel = (trigger: string) => TRIGGERS.find((t) => t.value === trigger)?.label ?? trigger;

function RunItem({ run, name }: { run: RunSummary; name: string }) {
  const { ago: timeAgo } = useDates();
  return (
    <li>
      <a className="list-item run-item" href={`#/runs/${run.id}`} data-run-id={run.id} data-status={run.status}>
        <StatusPill status={run.status} />
        <div className="run-main">
          <strong>{name}</strong>
          <div className="muted small">
            {run.mode === "test" ? "Test" : "Live"} · v{run.version} · {triggerLabel(run.trigger)} · {timeAgo(run.created_at)} · {duration(run.started_at, run.ended_at)}
          </div>
          {run.error && <div className="run-error small">{run.error.message}</div>}
        </div>
      </a>
    </li>
  );
}

const filtered = (filters: RunFilters) => JSON.stringify(filters) !== JSON.stringify(NO_FILTERS);

/** Keeps the filters in the address without a new history entry (Back from a run returns to them). */
function remember(filters: RunFilters): void {
  const search = filtersToSearch(filters);
  window.history.replaceState(window.history.state, "", `#/runs${search ? `?${search}` : ""}`);
}

export function RunsPage({ search }: { search: URLSearchParams }) {
  const [filters, setFilters] = useState<RunFilters>(() => filtersFromSearch(search));
  const change = (next: RunFilters) => {
    setFilters(next);
    remember(next);
  };
  const { live } = useRunsLive();
  const list = useRunsList(filters, live);
  const counts = useRunCounts(filters, live).data;
  const workflows = useWorkflows().data;
  const names = useMemo(() => new Map(workflows?.map((w) => [w.id, w.name])), [workflows]);
  const runs = list.data?.pages.flatMap((p) => p.runs);

  const title = filters.workflowId ? `Runs of ${names.get(filters.workflowId) ?? "this workflow"}` : "Runs";
  return (
    <main className="page runs-page">
      <div className="page-head">
        <h1>{title}</h1>
        <span className="muted small" data-testid="live">{live ? "Updates live" : "Refreshing every few seconds"}</span>
      </div>
      <RunSearch key={`${filters.search}\n${filters.searchField}`} filters={filters} onChange={change} />
      {filters.search && (
        <p className="muted small" data-testid="search-note">
          Runs whose input holds “{filters.search}”{filters.searchField ? ` in ${filters.searchField}` : ""}. A run started
          just now can take a second to be found.
        </p>
      )}
      <RunFiltersBar filters={filters} counts={counts} workflows={workflows} onChange={change} />
      {list.error && <div className="callout callout-error">{list.error.message}</div>}
      {!runs && !list.error && <Loading what="the runs" />}
      {runs?.length === 0 && (filtered(filters)
        ? <EmptyState title="No runs match" action={<button className="btn btn-secondary" onClick={() => change(NO_FILTERS)}>Clear the filters</button>} />
        : (
          <EmptyState title="No runs yet" action={<a className="btn btn-primary" href="#/">Open a workflow</a>}>
            Open a workflow and press Test run to see it work.
          </EmptyState>
        ))}
      <ul className="list runs-list" aria-label="Runs">
        {runs?.map((run) => <RunItem key={run.id} run={run} name={names.get(run.workflow_id) ?? "Workflow"} />)}
      </ul>
      {list.hasNextPage && (
        <button className="btn btn-secondary load-more" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          {list.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </main>
  );
}
