// The reports API (GET /reports/tenant, /reports/workflows/{id} and its failures) and the shaping of a report for the
// dashboard: tiles, chart points and table rows. Only live runs count, in the bucket in which they ended.
import { http, unwrap } from "../api/client";
import type { components } from "../api/schema";

type Schemas = components["schemas"];

export type Report = Schemas["Report"];
export type Bucket = Report["bucket"];
export type Totals = Schemas["Totals"];
export type Outcomes = Schemas["Outcomes"];
export type FailureGroup = Schemas["FailureGroup"];

export type RangeKey = "24h" | "7d" | "30d";
export const RANGES: { key: RangeKey; label: string; hours: number }[] = [
  { key: "24h", label: "Last 24 hours", hours: 24 },
  { key: "7d", label: "Last 7 days", hours: 7 * 24 },
  { key: "30d", label: "Last 30 days", hours: 30 * 24 },
];

export type ReportQuery = { from: string; to: string; bucket: Bucket };

/** The window of `range` ending now, as instants with their zone. */
export function reportWindow(range: RangeKey, bucket: Bucket, now = new Date()): ReportQuery {
  const hours = RANGES.find((r) => r.key === range)?.hours ?? 7 * 24;
  return { from: new Date(now.getTime() - hours * 3_600_000).toISOString(), to: now.toISOString(), bucket };
}

export const reportsApi = {
  report: (workflowId: string | null, query: ReportQuery) =>
    (workflowId
      ? unwrap(http.GET("/api/v1/reports/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId }, query } }))
      : unwrap(http.GET("/api/v1/reports/tenant", { params: { query } }))) as Promise<Report>,
  /** The workflow's failed live runs in the window, grouped by step, kind and status; largest group first. */
  failures: (workflowId: string, { from, to }: ReportQuery) =>
    unwrap(http.GET("/api/v1/reports/workflows/{workflow_id}/failures", { params: { path: { workflow_id: workflowId }, query: { from, to } } })),
  /** The report's series as CSV, one row per bucket. */
  csv: (workflowId: string | null, query: ReportQuery): Promise<Blob> => {
    const csvQuery = { ...query, format: "csv" as const };
    return (workflowId
      ? unwrap(http.GET("/api/v1/reports/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId }, query: csvQuery }, parseAs: "blob" }))
      : unwrap(http.GET("/api/v1/reports/tenant", { params: { query: csvQuery }, parseAs: "blob" }))) as Promise<Blob>;
  },
};

/** 0.756 → "75.6%", 1 → "100%"; null (no runs) → "—". */
export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return "—";
  const value = Math.round(rate * 1000) / 10;
  return `${value}%`;
}

/** A duration in milliseconds, short: "850 ms", "1.2 s", "2.5 min", "1.1 h"; null → "—". */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${Math.round(value / 100) / 10} s`;
  if (value < 3_600_000) return `${Math.round(value / 6000) / 10} min`;
  return `${Math.round(value / 360_000) / 10} h`;
}

export type Tile = { key: string; label: string; value: string };

export function totalTiles(totals: Totals): Tile[] {
  return [
    { key: "runs", label: "Runs", value: String(totals.runs) },
    { key: "success_rate", label: "Success rate", value: percent(totals.success_rate) },
    { key: "p50", label: "Median duration (p50)", value: ms(totals.p50_ms) },
    { key: "p95", label: "Slowest 5% (p95)", value: ms(totals.p95_ms) },
  ];
}

const OUTCOMES: { key: keyof Outcomes; label: string }[] = [
  { key: "emails_sent", label: "Emails sent" },
  { key: "sms_sent", label: "SMS sent" },
  { key: "posts", label: "Posts" },
  { key: "crm_writes", label: "CRM writes" },
  { key: "http_calls", label: "HTTP calls" },
];

export const outcomeTiles = (outcomes: Outcomes): Tile[] =>
  OUTCOMES.map(({ key, label }) => ({ key, label, value: String(outcomes[key] ?? 0) }));

/** One bucket as the charts draw it: a short label, counts per status, success in percent, durations in ms. */
export type ChartPoint = {
  label: string;
  start: string;
  completed: number;
  failed: number;
  cancelled: number;
  success: number | null;
  p50: number | null;
  p95: number | null;
};

/** "14:00" for an hour (with the day when the series spans several), "3 Mar" for a day. */
export function bucketLabel(start: string, bucket: Bucket, manyDays: boolean, timeZone?: string): string {
  const options: Intl.DateTimeFormatOptions = bucket === "day"
    ? { day: "numeric", month: "short" }
    : manyDays ? { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
      : { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  return new Date(start).toLocaleString("en-GB", { ...options, timeZone });
}

export function chartPoints(report: Pick<Report, "series" | "bucket">, timeZone?: string): ChartPoint[] {
  const first = report.series[0]?.start;
  const last = report.series[report.series.length - 1]?.start;
  const manyDays = !!first && !!last && new Date(last).getTime() - new Date(first).getTime() >= 24 * 3_600_000;
  return report.series.map((point) => ({
    label: bucketLabel(point.start, report.bucket, manyDays, timeZone),
    start: point.start,
    completed: point.completed,
    failed: point.failed,
    cancelled: point.cancelled,
    success: point.success_rate === null ? null : Math.round(point.success_rate * 1000) / 10,
    p50: point.p50_ms,
    p95: point.p95_ms,
  }));
}

/** True when at least one bucket has a run: the charts have something to draw. */
export const hasRuns = (report: Pick<Report, "totals">): boolean => report.totals.runs > 0;

export const csvName = (workflowName: string | null, range: RangeKey, bucket: Bucket): string =>
  `flowyard-${(workflowName ?? "workspace").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "workflow"}-${range}-by-${bucket}.csv`;
