// Runs as an operator handles them: the filtered, paged list with its counts per status, and the acts on one run
// (cancel, retry, replay) with the previews that name what would act outside Flowyard again.
import { http, unwrap } from "../api/client";
import type { components, operations } from "../api/schema";
import type { Run, RunStatus, RunSummary } from "../api/types";
import { zonedToInstant, type Zone } from "../lib/dates";

type Schemas = components["schemas"];

export type RerunPlan = Schemas["RerunPlan"];
export type RerunAccepted = Schemas["RerunAccepted"];
export type SideEffect = Schemas["SideEffect"];
export type TriggerKind = NonNullable<NonNullable<operations["list_runs_api_v1_runs_get"]["parameters"]["query"]>["trigger"]>;
export type RetryFrom = "failed_step" | "start";
export type AttentionResolution = Schemas["AttentionResolve"]["resolution"];

/** The statuses the list filters by, in the order its chips show them. */
export const LISTED_STATUSES: RunStatus[] = ["pending", "running", "waiting", "needs_attention", "completed", "failed", "cancelled"];

export const TRIGGERS: { value: TriggerKind; label: string }[] = [
  { value: "manual", label: "Manual" },
  { value: "webhook", label: "Webhook" },
  { value: "schedule", label: "Schedule" },
  { value: "data_change", label: "Data change" },
  { value: "event", label: "Event" },
  { value: "retry", label: "Retry" },
  { value: "replay", label: "Replay" },
];

/** The list's filters as the page holds them: dates are the picker's "YYYY-MM-DD" (days in the workspace's time
 *  zone), "" when unset. */
export type RunFilters = {
  statuses: RunStatus[];
  workflowId: string;
  mode: "" | "live" | "test";
  trigger: "" | TriggerKind;
  createdFrom: string;
  createdTo: string;
  /** A value the run's input holds in a search field (an email, a phone number, an order id), "" when unset. */
  search: string;
  /** The one search field to look in; "" for any of the workspace's. */
  searchField: string;
};

export const NO_FILTERS: RunFilters = {
  statuses: [], workflowId: "", mode: "", trigger: "", createdFrom: "", createdTo: "", search: "", searchField: "",
};

type RunsQuery = NonNullable<operations["list_runs_api_v1_runs_get"]["parameters"]["query"]>;

/** The filters as query parameters; unset ones left out. Days start at midnight in `zone` (the workspace's); the
 *  "to" day is included (created before the next day). */
export function runsQuery(filters: RunFilters, zone: Zone): RunsQuery {
  const query: RunsQuery = {};
  if (filters.statuses.length) query.status = filters.statuses;
  if (filters.workflowId) query.workflow_id = filters.workflowId;
  if (filters.mode) query.mode = filters.mode;
  if (filters.trigger) query.trigger = filters.trigger;
  if (filters.createdFrom) query.created_after = zonedToInstant(filters.createdFrom, zone);
  if (filters.createdTo) query.created_before = zonedToInstant(filters.createdTo, zone, 1);
  if (filters.search.trim()) {
    query.search = filters.search.trim();
    if (filters.searchField) query.search_field = filters.searchField;
  }
  return query;
}

/** The filters kept in the page's address ("#/runs?status=failed&workflow=…"), so that Back restores them. */
export function filtersToSearch(filters: RunFilters): string {
  const search = new URLSearchParams();
  filters.statuses.forEach((status) => search.append("status", status));
  if (filters.workflowId) search.set("workflow", filters.workflowId);
  if (filters.mode) search.set("mode", filters.mode);
  if (filters.trigger) search.set("trigger", filters.trigger);
  if (filters.createdFrom) search.set("from", filters.createdFrom);
  if (filters.createdTo) search.set("to", filters.createdTo);
  if (filters.search) search.set("q", filters.search);
  if (filters.search && filters.searchField) search.set("in", filters.searchField);
  return search.toString();
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The filters an address names; anything unknown is left out. */
export function filtersFromSearch(search: URLSearchParams): RunFilters {
  const day = (value: string | null) => (value && DAY.test(value) ? value : "");
  const mode = search.get("mode");
  const trigger = TRIGGERS.find((t) => t.value === search.get("trigger"))?.value;
  return {
    statuses: LISTED_STATUSES.filter((status) => search.getAll("status").includes(status)),
    workflowId: search.get("workflow") ?? "",
    mode: mode === "live" || mode === "test" ? mode : "",
    trigger: trigger ?? "",
    createdFrom: day(search.get("from")),
    createdTo: day(search.get("to")),
    search: search.get("q") ?? "",
    searchField: search.get("q") ? search.get("in") ?? "" : "",
  };
}

export type RunsPage = { runs: RunSummary[]; next: string | null };
export type RunCounts = Record<RunStatus, number>;

const runPath = (run_id: string) => ({ path: { run_id } });

export const runsApi = {
  /** A page of runs; the next page's cursor comes in the X-Next-Cursor header. */
  list: async (filters: RunFilters, zone: Zone, cursor: string | null, limit = 50): Promise<RunsPage> => {
    const answer = http.GET("/api/v1/runs", { params: { query: { ...runsQuery(filters, zone), limit, cursor } } });
    const runs = (await unwrap(answer)) as RunSummary[];
    return { runs, next: (await answer).response.headers.get("X-Next-Cursor") };
  },
  /** How many runs match the filters per status (the status filter itself is left out). */
  counts: (filters: RunFilters, zone: Zone) =>
    unwrap(http.GET("/api/v1/runs/counts", { params: { query: runsQuery({ ...filters, statuses: [] }, zone) } })) as Promise<RunCounts>,
  read: (runId: string) => unwrap(http.GET("/api/v1/runs/{run_id}", { params: runPath(runId) })) as Promise<Run>,
  cancel: (runId: string) => unwrap(http.POST("/api/v1/runs/{run_id}/cancel", { params: runPath(runId) })),
  resolveAttention: (runId: string, resolution: AttentionResolution) =>
    unwrap(http.POST("/api/v1/runs/{run_id}/attention", { params: runPath(runId), body: { resolution } })),
  retryPreview: (runId: string, from: RetryFrom) =>
    unwrap(http.GET("/api/v1/runs/{run_id}/retry/preview", { params: { ...runPath(runId), query: { from } } })),
  retry: (runId: string, from: RetryFrom) =>
    unwrap(http.POST("/api/v1/runs/{run_id}/retry", { params: runPath(runId), body: { from } })),
  replayPreview: (runId: string, version?: number) =>
    unwrap(http.GET("/api/v1/runs/{run_id}/replay/preview", { params: { ...runPath(runId), query: { version } } })),
  replay: (runId: string, version?: number) =>
    unwrap(http.POST("/api/v1/runs/{run_id}/replay", { params: runPath(runId), body: { version } })),
};
