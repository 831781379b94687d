// Follows one run live: its snapshot, then the events stream (step and status changes); polls if
// the stream cannot be read; reads the run once more at the end for its logs.
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { streamEvents, type SseMessage } from "../api/events";
import { FINAL_STATUSES, type Run, type RunStatus, type Step } from "../api/types";

const POLL_MS = 1500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function upsertStep(steps: Step[], step: Step): Step[] {
  const index = steps.findIndex((s) => s.node_id === step.node_id);
  return index < 0 ? [...steps, step] : steps.map((s, i) => (i === index ? step : s));
}

export function applyEvent(run: Run, message: SseMessage): Run {
  const data = JSON.parse(message.data);
  if (message.event === "step") return { ...run, steps: upsertStep(run.steps, data as Step) };
  if (message.event === "status") return { ...run, status: data.status as RunStatus };
  return run;
}

export function useRun(runId: string | null): { run: Run | null; problem: string | null } {
  const [run, setRun] = useState<Run | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    setRun(null);
    setProblem(null);
    if (!runId) return;
    const controller = new AbortController();
    const done = () => controller.signal.aborted;
    const refresh = async () => {
      const fresh = await api.run(runId);
      if (!done()) setRun(fresh);
      return fresh;
    };
    const follow = async () => {
      if (FINAL_STATUSES.includes((await refresh()).status)) return;
      try {
        await streamEvents(`/runs/${runId}/events`, (m) => setRun((r) => (r ? applyEvent(r, m) : r)), controller.signal);
      } catch {
        while (!done() && !FINAL_STATUSES.includes((await refresh()).status)) await sleep(POLL_MS);
      }
      if (!done()) await refresh();
    };
    follow().catch((error: Error) => {
      if (!done()) setProblem(error.message);
    });
    return () => controller.abort();
  }, [runId]);

  return { run, problem };
}
