// The runs list's filters: status chips with how many runs each has (under the other filters), then workflow,
// mode, what started the run and the days it was created. Every change applies at once.
import type { RunStatus, WorkflowSummary } from "../api/types";
import { LISTED_STATUSES, TRIGGERS, type RunCounts, type RunFilters } from "./api";

const STATUS_LABELS: Record<string, string> = {
  pending: "Pending", running: "Running", waiting: "Waiting", needs_attention: "Needs attention", completed: "Completed", failed: "Failed", cancelled: "Cancelled",
};

/** `status` added to the chosen ones, or taken out if it was chosen. */
export const toggled = (statuses: RunStatus[], status: RunStatus): RunStatus[] =>
  statuses.includes(status) ? statuses.filter((s) => s !== status) : LISTED_STATUSES.filter((s) => s === status || statuses.includes(s));

function StatusChips({ chosen, counts, onChange }: { chosen: RunStatus[]; counts?: RunCounts; onChange: (s: RunStatus[]) => void }) {
  const total = counts ? LISTED_STATUSES.reduce((sum, s) => sum + (counts[s] ?? 0), 0) : undefined;
  return (
    <div className="status-chips" role="group" aria-label="Status">
      <button type="button" className="btn btn-chip" aria-pressed={chosen.length === 0} onClick={() => onChange([])}>
        All <span className="chip-count" data-count="all">{total ?? "…"}</span>
      </button>
      {LISTED_STATUSES.map((status) => (
        <button key={status} type="button" className={`btn btn-chip chip-${status}`} aria-pressed={chosen.includes(status)}
          onClick={() => onChange(toggled(chosen, status))}>
          {STATUS_LABELS[status]} <span className="chip-count" data-count={status}>{counts?.[status] ?? "…"}</span>
        </button>
      ))}
    </div>
  );
}

type Props = { filters: RunFilters; counts?: RunCounts; workflows?: WorkflowSummary[]; onChange: (f: RunFilters) => void };

export function RunFiltersBar({ filters, counts, workflows, onChange }: Props) {
  const set = <K extends keyof RunFilters>(key: K, value: RunFilters[K]) => onChange({ ...filters, [key]: value });
  return (
    <section className="run-filters" aria-label="Filters">
      <StatusChips chosen={filters.statuses} counts={counts} onChange={(statuses) => set("statuses", statuses)} />
      <div className="filter-fields">
        <label>Workflow
          <select value={filters.workflowId} onChange={(e) => set("workflowId", e.target.value)}>
            <option value="">All workflows</option>
            {workflows?.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
          </select>
        </label>
        <label>Mode
          <select value={filters.mode} onChange={(e) => set("mode", e.target.value as RunFilters["mode"])}>
            <option value="">Live and test</option>
            <option value="live">Live</option>
            <option value="test">Test</option>
          </select>
        </label>
        <label>Started by
          <select value={filters.trigger} onChange={(e) => set("trigger", e.target.value as RunFilters["trigger"])}>
            <option value="">Anything</option>
            {TRIGGERS.map((t) => <option key={t.value} value={t.value}>{t.label}</option>)}
          </select>
        </label>
        <label>Created from
          <input type="date" value={filters.createdFrom} max={filters.createdTo || undefined}
            onChange={(e) => set("createdFrom", e.target.value)} />
        </label>
        <label>Created to
          <input type="date" value={filters.createdTo} min={filters.createdFrom || undefined}
            onChange={(e) => set("createdTo", e.target.value)} />
        </label>
      </div>
    </section>
  );
}
