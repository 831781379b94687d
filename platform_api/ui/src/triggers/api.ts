// A published workflow's trigger as the trigger panel reads and changes it: the webhook endpoint, its latest
// deliveries, rotating its secret and sending a test delivery; a schedule's next fire times, pausing and resuming.
// A webhook secret the API shows once (first publish, rotation) is kept in memory only, until it is dismissed.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { http, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { createStore, useSelector } from "../lib/store";
import type { Fire } from "./schedule";

type Schemas = components["schemas"];
export type WebhookRead = Schemas["WebhookRead"];
export type WebhookDelivery = Schemas["WebhookDelivery"];
export type SchedulePreview = { time_zone: string; paused: boolean; fires: Fire[] };

const path = (workflow_id: string) => ({ params: { path: { workflow_id } } });

export const triggerKeys = {
  webhook: (id: string) => ["workflows", id, "webhook"] as const,
  deliveries: (id: string) => ["workflows", id, "webhook", "deliveries"] as const,
  preview: (id: string, version: number) => ["workflows", id, "schedule", version] as const,
};

export function useWebhook(workflowId: string, live: boolean) {
  return useQuery({
    queryKey: triggerKeys.webhook(workflowId),
    queryFn: () => unwrap(http.GET("/api/v1/workflows/{workflow_id}/webhook", path(workflowId))),
    enabled: live,
    retry: false,
  });
}

export function useDeliveries(workflowId: string, live: boolean) {
  return useQuery({
    queryKey: triggerKeys.deliveries(workflowId),
    queryFn: () => unwrap(http.GET("/api/v1/workflows/{workflow_id}/webhook/deliveries", {
      params: { path: { workflow_id: workflowId }, query: { limit: 10 } },
    })),
    enabled: live,
    refetchInterval: 3000,
  });
}

export function useRotateSecret(workflowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (secret: string | null) => unwrap(http.POST("/api/v1/workflows/{workflow_id}/webhook/rotate", {
      ...path(workflowId), body: secret ? { secret } : {},
    })),
    onSuccess: (rotated) => {
      showSecret(workflowId, { secret: rotated.secret, url: rotated.url, why: "rotated" });
      void client.invalidateQueries({ queryKey: triggerKeys.webhook(workflowId) });
    },
  });
}

export function useTestDelivery(workflowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(http.POST("/api/v1/workflows/{workflow_id}/webhook/test", path(workflowId))),
    onSuccess: () => client.invalidateQueries({ queryKey: triggerKeys.deliveries(workflowId) }),
  });
}

/** The next 10 fire times of the live version (or, before the first publish, of the latest saved one). */
export function useSchedulePreview(workflowId: string, version: number) {
  return useQuery({
    queryKey: triggerKeys.preview(workflowId, version),
    queryFn: () => unwrap(http.GET("/api/v1/workflows/{workflow_id}/schedule/preview", {
      params: { path: { workflow_id: workflowId }, query: { count: 10 } },
    })) as Promise<SchedulePreview>,
    retry: false,
  });
}

export function usePauseSchedule(workflowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (action: "pause" | "resume") => unwrap(http.POST("/api/v1/workflows/{workflow_id}/schedule/{action}", {
      params: { path: { workflow_id: workflowId, action } },
    })) as Promise<{ paused: boolean }>,
    onSuccess: () => client.invalidateQueries({ queryKey: ["workflows", workflowId, "schedule"] }),
  });
}

/** `approved`: an approval of someone else's publish request created the webhook; the approver sees it. */
export type ShownSecret = { secret: string; url?: string; why: "published" | "rotated" | "approved" };

/** Secrets to show once, by workflow id. */
const shownSecrets = createStore<Record<string, ShownSecret>>({});

export function showSecret(workflowId: string, shown: ShownSecret): void {
  shownSecrets.set({ ...shownSecrets.get(), [workflowId]: shown });
}

export function forgetSecret(workflowId: string): void {
  const rest = { ...shownSecrets.get() };
  delete rest[workflowId];
  shownSecrets.set(rest);
}

export const useShownSecret = (workflowId: string): ShownSecret | undefined =>
  useSelector(shownSecrets, (all) => all[workflowId]);
