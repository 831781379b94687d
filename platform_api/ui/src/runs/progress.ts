// An active run's progress in words (where it is, when it should end, its place in the queue), the kinds of
// step failures as people read them, and the layout of a run's timeline (one bar per step on a shared axis).
import type { RunProgress, Step } from "../api/types";
import { formatClock, type Zone } from "../lib/dates";

/** The kinds of failure, titled as the help page (/help/errors, docs/errors.md) titles them. */
export const ERROR_KINDS: Record<string, string> = {
  auth: "Credentials rejected",
  permission: "Not allowed",
  validation: "Refused by the service",
  rate_limited: "Too many requests",
  upstream_down: "Service failing or unreachable",
  timeout: "No answer in time",
  expression: "An expression failed",
  configuration: "A setting is wrong or missing",
  internal: "A fault in Flowyard",
};

export const errorKindLabel = (kind: string): string => ERROR_KINDS[kind] ?? kind;

/** "09:12:05": a time of day, 24 hours, in the workspace's zone (the browser's when none is given). */
export const clock = (iso: string, zone?: Zone): string => formatClock(iso, zone);

/** Seconds as people say them: "about 40 s", "about 3 min", "about 2 h". */
export function roughly(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** "Should finish in about 12 s (by 09:12:30), at the latest 09:12:41", from the run's ETA at `now`. */
export function etaText(eta: NonNullable<RunProgress["eta"]>, now: number, zone?: Zone): string {
  const left = (new Date(eta.p50).getTime() - now) / 1000;
  const latest = `at the latest ${clock(eta.p90, zone)}`;
  if (left < 1) return `Taking longer than usual: it usually ends by ${clock(eta.p50, zone)}, ${latest}`;
  return `Should finish in about ${roughly(left)} (by ${clock(eta.p50, zone)}), ${latest}`;
}

/** "Number 3 in the queue — <what holds it>". */
export const queueText = (queue: NonNullable<RunProgress["queue"]>): string =>
  `Number ${queue.position} in the queue — ${queue.detail}`;

/** One bar of the timeline: where it starts and how wide it is, in percent of the axis. */
export type Bar = { key: string; nodeId: string; itemIndex: number | null; status: string; left: number; width: number; ms: number };
export type Timeline = { start: number; end: number; bars: Bar[] };

/** The steps that started, as bars on one axis from the first start to the last end (or `now` for one still going). */
export function timeline(steps: Step[], now: number): Timeline | null {
  const started = steps.filter((s) => s.started_at);
  if (started.length === 0) return null;
  const from = (s: Step) => new Date(s.started_at!).getTime();
  const to = (s: Step) => (s.ended_at ? new Date(s.ended_at).getTime() : Math.max(now, from(s)));
  const start = Math.min(...started.map(from));
  const end = Math.max(...started.map(to), start + 1);
  const span = end - start;
  const bars = [...started].sort((a, b) => from(a) - from(b)).map((s) => ({
    key: `${s.node_id}:${s.item_index ?? ""}`,
    nodeId: s.node_id,
    itemIndex: s.item_index ?? null,
    status: s.status,
    left: (100 * (from(s) - start)) / span,
    width: (100 * (to(s) - from(s))) / span,
    ms: to(s) - from(s),
  }));
  return { start, end, bars };
}
