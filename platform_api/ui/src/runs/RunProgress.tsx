// Where an active run is (the steps running now, when it should finish, its place in the queue, what it waits
// for) and the timeline of its steps: one bar per step from its start to its end on a shared time axis.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { FINAL_STATUSES, type Run } from "../api/types";
import { useDates } from "../lib/dates";
import { ms } from "../dashboard/api";
import { runsApi } from "./api";
import { clock, etaText, queueText, timeline } from "./progress";

const PROGRESS_MS = 2000;

/** The time now, moving on every second while `running`. */
function useNow(running: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);
  return now;
}

/** The run's progress, read again every few seconds (and at once when its status changes) while it is active. */
function useProgress(run: Run) {
  const active = !FINAL_STATUSES.includes(run.status);
  const { data } = useQuery({
    queryKey: ["run-progress", run.id, run.status] as const,
    queryFn: () => runsApi.read(run.id).then((fresh) => fresh.progress ?? null),
    enabled: active,
    refetchInterval: active ? PROGRESS_MS : false,
    staleTime: 0,
  });
  return active ? (data ?? run.progress ?? null) : null;
}

export function RunProgressNote({ run, labelOf }: { run: Run; labelOf: (nodeId: string) => string }) {
  const progress = useProgress(run);
  const now = useNow(!!progress);
  const { dateTime, zone } = useDates();
  if (!progress) return null;
  const current = progress.current_steps.filter(Boolean);
  return (
    <div className="card run-progress" data-testid="run-progress" aria-live="polite">
      {run.status === "running" && current.length > 0 && (
        <p data-testid="current-steps">Now running: <strong>{current.map(labelOf).join(", ")}</strong></p>
      )}
      {run.status === "running" && progress.eta && (
        <p data-testid="eta" title={`Learned from ${progress.eta.based_on_runs} completed runs of this version`}>
          {etaText(progress.eta, now, zone)}
        </p>
      )}
      {run.status === "waiting" && (
        <p data-testid="waiting-until">
          {current.length > 0 && <>Waiting at <strong>{current.map(labelOf).join(", ")}</strong>. </>}
          {progress.waiting_until ? `Waiting until ${dateTime(progress.waiting_until)}` : "Waiting for an answer"}
        </p>
      )}
      {progress.queue && <p data-testid="queue" data-held-by={progress.queue.held_by}>{queueText(progress.queue)}</p>}
    </div>
  );
}

export function RunTimeline({ run, labelOf }: { run: Run; labelOf: (nodeId: string) => string }) {
  const active = !FINAL_STATUSES.includes(run.status);
  const now = useNow(active);
  const { zone } = useDates();
  const line = timeline(run.steps, now);
  if (!line) return null;
  const total = line.end - line.start;
  return (
    <section className="card run-timeline" aria-label="Timeline">
      <div className="timeline-axis muted small" aria-hidden="true">
        <span>{clock(new Date(line.start).toISOString(), zone)}</span>
        <span>{ms(total / 2)}</span>
        <span>{ms(total)}</span>
      </div>
      <ol className="timeline-rows">
        {line.bars.map((bar) => {
          const label = `${labelOf(bar.nodeId)}${bar.itemIndex !== null ? ` #${bar.itemIndex + 1}` : ""}`;
          return (
            <li key={bar.key} className="timeline-row" data-node-id={bar.nodeId} data-status={bar.status}>
              <span className="timeline-label" title={label}>{label}</span>
              <span className="timeline-track">
                <span className={`timeline-bar status-${bar.status}`} style={{ left: `${bar.left}%`, width: `${bar.width}%` }}
                  title={`${label}: ${ms(bar.ms)} (${bar.status})`} />
              </span>
              <span className="timeline-ms muted small">{ms(bar.ms)}</span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
