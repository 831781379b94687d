// The approvals inbox and the notification centre: the API calls, and the pure rules the screens and tests share
// (who answers, grouping by kind, where a notification leads, what the badges say).
import { http, unwrap } from "../api/client";
import type { components } from "../api/schema";

type Schemas = components["schemas"];

export type ApprovalItem = Schemas["ApprovalItem"];
export type Notification = Schemas["NotificationItem"];
export type Preferences = Schemas["NotificationPreferences"];
export type EmailKind = keyof Preferences["email"];

/** How the notification centre names each kind, in the order its groups are shown. */
export const KIND_LABELS: Record<string, string> = {
  step_failed: "Failed steps",
  alert_raised: "Alerts",
  alert_resolved: "Alerts resolved",
  publish_requested: "Changes to approve",
  publish_request_approved: "Changes approved",
  publish_request_rejected: "Changes rejected",
  trigger_changed: "Trigger changes",
  template_updated: "Template updates",
};

export const EMAIL_LABELS: Record<EmailKind, { label: string; help: string }> = {
  step_failed: { label: "A step failed", help: "When a step fails after its last retry (sent to owners and admins)." },
  alerts: { label: "Alerts", help: "When one of the workspace's alert rules fires or clears." },
};

export const kindLabel = (kind: string) => KIND_LABELS[kind] ?? kind.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

/** Notifications grouped by kind: known kinds in KIND_LABELS' order, then the others; newest first in each. */
export function groupByKind(items: Notification[]): { kind: string; label: string; items: Notification[] }[] {
  const groups = new Map<string, Notification[]>();
  for (const item of items) groups.set(item.kind, [...(groups.get(item.kind) ?? []), item]);
  const order = Object.keys(KIND_LABELS);
  const rank = (kind: string) => (order.includes(kind) ? order.indexOf(kind) : order.length);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([kind, list]) => ({ kind, label: kindLabel(kind), items: [...list].sort((x, y) => y.created_at.localeCompare(x.created_at)) }));
}

/** Where a notification leads (the run first, then a publish request, the workflow, the template), or null. */
export function notificationLink(n: Pick<Notification, "run_id" | "workflow_id" | "template_slug" | "request_id">):
  { href: string; label: string } | null {
  if (n.run_id) return { href: `#/runs/${n.run_id}`, label: "Open the run" };
  if (n.request_id) return { href: `#/publish-requests/${n.request_id}`, label: "Review the change" };
  if (n.workflow_id) return { href: `#/workflows/${n.workflow_id}`, label: "Open the workflow" };
  if (n.template_slug) return { href: `#/templates/${n.template_slug}`, label: "Open the template" };
  return null;
}

/** A badge's text: "" for none, "99+" past 99. */
export const countText = (count: number | undefined) => (!count ? "" : count > 99 ? "99+" : String(count));

/** The run's data as label/value rows for the inbox (nested values as compact JSON). */
export function contextRows(input: Record<string, unknown>): { key: string; value: string }[] {
  return Object.entries(input).map(([key, value]) => ({
    key, value: typeof value === "string" ? value : JSON.stringify(value),
  }));
}

const approvalPath = (run_id: string, node_id: string) => ({ params: { path: { run_id, node_id } } });

export const inboxApi = {
  /** Pending approvals the signed-in person may answer, newest first. */
  pending: () => unwrap(http.GET("/api/v1/approvals", { params: { query: { status: "pending", decidable: true } } })),
  decide: (runId: string, nodeId: string, decision: "approve" | "reject", comment: string | null) =>
    unwrap(http.POST("/api/v1/runs/{run_id}/approvals/{node_id}", { ...approvalPath(runId, nodeId), body: { decision, comment } })),
  notifications: () => unwrap(http.GET("/api/v1/notifications")),
  unread: () => unwrap(http.GET("/api/v1/notifications/unread-count")),
  markRead: (id: string) =>
    unwrap(http.POST("/api/v1/notifications/{notification_id}/read", { params: { path: { notification_id: id } } })),
  markAllRead: () => unwrap(http.POST("/api/v1/notifications/read")),
  preferences: () => unwrap(http.GET("/api/v1/notifications/preferences")),
  savePreferences: (body: Preferences) => unwrap(http.PUT("/api/v1/notifications/preferences", { body })),
};
