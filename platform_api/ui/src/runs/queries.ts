// The runs list, its counts and the acts on one run through the query cache. Every key starts with "runs", so a
// new run (started, retried, replayed) or a `changed` event from GET /runs/events refreshes every list at once.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { streamEvents } from "../api/events";
import { keys } from "../api/queries";
import type { Run } from "../api/types";
import { useDates, type Zone } from "../lib/dates";
import { runsApi, type AttentionResolution, type RetryFrom, type RunFilters } from "./api";

const POLL_MS = 5000;
const RECONNECT_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const runsKeys = {
  all: ["runs"] as const,
  list: (filters: RunFilters, zone: Zone) => ["runs", "list", filters, zone] as const,
  counts: (filters: RunFilters, zone: Zone) => ["runs", "counts", { ...filters, statuses: [] }, zone] as const,
};

/** What a retry or replay would be: the kind, and where it starts from or the version it runs. */
export type Rerun = { kind: "retry"; from: RetryFrom } | { kind: "replay"; version: number };

/** Refreshes the runs lists whenever a run of the workspace changes (SSE); polls while the stream is down. */
export function useRunsLive(): { live: boolean } {
  const client = useQueryClient();
  const [live, setLive] = useState(true);
  useEffect(() => {
    const controller = new AbortController();
    const refresh = () => void client.invalidateQueries({ queryKey: runsKeys.all });
    const follow = async () => {
      while (!controller.signal.aborted) {
        try {
          await streamEvents("/runs/events", (m) => m.event === "changed" && refresh(), controller.signal);
        } catch {
          // below: poll until the next attempt
        }
        if (controller.signal.aborted) return;
        setLive(false);
        await sleep(RECONNECT_MS);
        setLive(true);
        refresh(); // what changed while the stream was down
      }
    };
    void follow();
    return () => controller.abort();
  }, [client]);
  return { live };
}

export function useRunsList(filters: RunFilters, live: boolean) {
  const { zone } = useDates();
  return useInfiniteQuery({
    queryKey: runsKeys.list(filters, zone),
    queryFn: ({ pageParam }) => runsApi.list(filters, zone, pageParam),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.next,
    refetchInterval: live ? false : POLL_MS,
  });
}

export function useRunCounts(filters: RunFilters, live: boolean) {
  const { zone } = useDates();
  return useQuery({
    queryKey: runsKeys.counts(filters, zone),
    queryFn: () => runsApi.counts(filters, zone),
    refetchInterval: live ? false : POLL_MS,
  });
}

export function useCancelRun(runId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => runsApi.cancel(runId),
    onSuccess: ({ stopped_at }) => {
      client.setQueryData<Run>(keys.run(runId), (run) => (run ? { ...run, status: "cancelled", stopped_at } : run));
      void client.invalidateQueries({ queryKey: runsKeys.all });
    },
    // e.g. 409: it ended meanwhile; show it as it is now
    onError: () => client.fetchQuery({ queryKey: keys.run(runId), queryFn: () => runsApi.read(runId), staleTime: 0 }),
  });
}

/** Answer a run that needs attention; it then queues again, so the cache shows it pending until its events come. */
export function useResolveAttention(runId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (resolution: AttentionResolution) => runsApi.resolveAttention(runId, resolution),
    onSuccess: () => {
      client.setQueryData<Run>(keys.run(runId), (run) => (run ? { ...run, status: "pending", error: null } : run));
      void client.invalidateQueries({ queryKey: runsKeys.all });
    },
    onError: () => client.fetchQuery({ queryKey: keys.run(runId), queryFn: () => runsApi.read(runId), staleTime: 0 }),
  });
}

export function useRerunPreview(runId: string, rerun: Rerun) {
  return useQuery({
    queryKey: ["rerun-preview", runId, rerun] as const,
    queryFn: () => (rerun.kind === "retry" ? runsApi.retryPreview(runId, rerun.from) : runsApi.replayPreview(runId, rerun.version)),
    staleTime: 0,
  });
}

export function useStartRerun(runId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (rerun: Rerun) => (rerun.kind === "retry" ? runsApi.retry(runId, rerun.from) : runsApi.replay(runId, rerun.version)),
    onSuccess: () => client.invalidateQueries({ queryKey: runsKeys.all }),
  });
}
