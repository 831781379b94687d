// Follows one run live: its snapshot, then the events stream (step and status changes); polls if
// the stream cannot be read; reads the run once more at the end for its logs. The run lives in the query
// cache, so every screen showing it (run page, editor's run bar) sees each event.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { streamEvents, type SseMessage } from "../api/events";
import { keys } from "../api/queries";
import { FINAL_STATUSES, type Run, type RunStatus, type Step } from "../api/types";

const POLL_MS = 1500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Steps are one per node, or one per node and item inside a loop. */
const sameStep = (a: Step, b: Step) => a.node_id === b.node_id && (a.item_index ?? null) === (b.item_index ?? null);

function upsertStep(steps: Step[], step: Step): Step[] {
  const index = steps.findIndex((s) => sameStep(s, step));
  return index < 0 ? [...steps, step] : steps.map((s, i) => (i === index ? step : s));
}

export function applyEvent(run: Run, message: SseMessage): Run {
  const data = JSON.parse(message.data);
  if (message.event === "step") return { ...run, steps: upsertStep(run.steps, data as Step) };
  if (message.event === "status") return { ...run, status: data.status as RunStatus };
  return run;
}

export function useRun(runId: string | null): { run: Run | null; problem: string | null } {
  const client = useQueryClient();
  // Read from the cache only: the effect below decides when to read the run again.
  const { data: run = null } = useQuery({ queryKey: keys.run(runId), queryFn: () => api.run(runId!), enabled: false });
  const [failure, setFailure] = useState<{ runId: string; message: string } | null>(null);

  useEffect(() => {
    if (!runId) return;
    const controller = new AbortController();
    const done = () => controller.signal.aborted;
    const refresh = () => client.fetchQuery({ queryKey: keys.run(runId), queryFn: () => api.run(runId), staleTime: 0 });
    const onEvent = (message: SseMessage) => {
      client.setQueryData<Run>(keys.run(runId), (current) => (current ? applyEvent(current, message) : current));
      // a status event carries the status only: what needs attention (the step, its error) comes with the run
      if (message.event === "status" && JSON.parse(message.data).status === "needs_attention") void refresh();
    };
    const follow = async () => {
      if (FINAL_STATUSES.includes((await refresh()).status)) return;
      try {
        await streamEvents(`/runs/${runId}/events`, onEvent, controller.signal);
      } catch {
        while (!done() && !FINAL_STATUSES.includes((await refresh()).status)) await sleep(POLL_MS);
      }
      if (!done()) await refresh();
      void client.invalidateQueries({ queryKey: ["runs"] });
    };
    follow().catch((error: Error) => {
      if (!done()) setFailure({ runId, message: error.message });
    });
    return () => controller.abort();
  }, [runId, client]);

  return { run, problem: failure?.runId === runId ? failure.message : null };
}
