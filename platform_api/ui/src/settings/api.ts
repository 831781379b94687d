// The Settings area's API: the workspace, its members and invitations, API keys, the audit log, alerts and their
// rules, privacy acts, and the signed-in user's password and sessions.
import { http, unwrap } from "../api/client";
import type { components } from "../api/schema";

type Schemas = components["schemas"];

export type Role = Schemas["MemberRead"]["role"];
export const ROLES: Role[] = ["owner", "admin", "editor", "operator", "viewer"];
export type Scope = Schemas["ApiKeyCreate"]["scopes"] extends (infer S)[] | undefined ? S : never;
export const SCOPES: Scope[] = ["read", "run", "deploy", "admin"];

export type Retention = Schemas["RetentionDays"];
export type Workspace = Schemas["TenantSettingsRead"];
/** Retention days left out stay as they are; null returns a field to the platform's default. */
export type WorkspaceUpdate = Schemas["TenantSettingsUpdate"];
export type KeyRotation = Schemas["KeyRotationRead"];

export type Me = Schemas["MeRead"];
export type Member = Schemas["MemberRead"];
export type Invitation = Schemas["InvitationCreated"];

export type ApiKey = Schemas["ApiKeyRead"];
export type ApiKeyCreate = Schemas["ApiKeyCreate"];

export type AuditEvent = Schemas["AuditEventRead"];
export type AuditFilters = { actor?: string; action?: string; target?: string; from?: string; to?: string };
export type AuditPage = { events: AuditEvent[]; next: string | null };
export type AuditCheck = Schemas["AuditVerification"];

export type Alert = Schemas["AlertRead"];
export type AlertStatus = Alert["status"];
export type AlertPage = { alerts: Alert[]; next: string | null };
/** Every rule with every setting: the API fills in the defaults. */
export type AlertRules = { [K in keyof Schemas["AlertRules"]]-?: Required<NonNullable<Schemas["AlertRules"][K]>> };

export type ExportJob = Schemas["ExportRead"];
export type Erasure = Schemas["ErasureRead"];

const bearer = (token?: string) => (token ? { headers: { Authorization: `Bearer ${token}` } } : {});

/** The audit filters as query parameters; empty filters are left out, times become ISO instants. */
export function auditQuery(filters: AuditFilters, cursor?: string | null, limit = 50): Record<string, string | number> {
  const query: Record<string, string | number> = { limit };
  for (const [key, value] of Object.entries(filters)) {
    const text = value?.trim();
    if (text) query[key] = key === "from" || key === "to" ? new Date(text).toISOString() : text;
  }
  if (cursor) query.cursor = cursor;
  return query;
}

const RETENTION_KEYS: (keyof Retention)[] = ["run_history_days", "step_payload_days", "log_days"];

/** The retention days a form changed (as typed), for PATCH /tenant: a cleared field goes back to the default. */
export function retentionChanges(form: Record<keyof Retention, string>, current: Retention): NonNullable<WorkspaceUpdate["retention"]> {
  const changed = RETENTION_KEYS.filter((key) => form[key].trim() !== String(current[key]));
  return Object.fromEntries(changed.map((key) => [key, form[key].trim() === "" ? null : Number(form[key])]));
}

export const settingsApi = {
  me: (token?: string) => unwrap(http.GET("/api/v1/me", bearer(token))),
  switchTo: (tenant_id: string) => unwrap(http.POST("/api/v1/auth/switch", { body: { tenant_id } })),
  workspace: () => unwrap(http.GET("/api/v1/tenant")),
  updateWorkspace: (body: WorkspaceUpdate) => unwrap(http.PATCH("/api/v1/tenant", { body })),
  rotateKey: () => unwrap(http.POST("/api/v1/tenant/keys/rotate")),

  members: () => unwrap(http.GET("/api/v1/members")),
  changeRole: (user_id: string, role: Role) => unwrap(http.PATCH("/api/v1/members/{user_id}", { params: { path: { user_id } }, body: { role } })),
  removeMember: (user_id: string) => unwrap(http.DELETE("/api/v1/members/{user_id}", { params: { path: { user_id } } })),
  invite: (email: string, role: Role) => unwrap(http.POST("/api/v1/invitations", { body: { email, role } })),
  invitations: () => unwrap(http.GET("/api/v1/invitations")),
  withdraw: (invitation_id: string) =>
    unwrap(http.DELETE("/api/v1/invitations/{invitation_id}", { params: { path: { invitation_id } } })),
  /** Accepts an invitation: a new person with a name and password, someone signed in (or `token`) with nothing. */
  accept: (invitation: string, body: Schemas["InvitationAccept"], token?: string) =>
    unwrap(http.POST("/api/v1/invitations/{token}/accept", { params: { path: { token: invitation } }, body, ...bearer(token) })),

  apiKeys: () => unwrap(http.GET("/api/v1/api-keys")),
  createApiKey: (body: ApiKeyCreate) => unwrap(http.POST("/api/v1/api-keys", { body })),
  revokeApiKey: (key_id: string) => unwrap(http.DELETE("/api/v1/api-keys/{key_id}", { params: { path: { key_id } } })),

  /** A page of the audit log; the next page's cursor comes in the X-Next-Cursor header. */
  audit: async (filters: AuditFilters, cursor: string | null): Promise<AuditPage> => {
    const answer = http.GET("/api/v1/audit", { params: { query: auditQuery(filters, cursor) } });
    const events = await unwrap(answer);
    return { events, next: (await answer).response.headers.get("X-Next-Cursor") };
  },
  verifyAudit: () => unwrap(http.GET("/api/v1/audit/verify")),
  exportAudit: () => unwrap(http.GET("/api/v1/audit/export", { parseAs: "blob" })) as Promise<Blob>,

  /** A page of the workspace's alerts, newest first; the next page's cursor comes in the X-Next-Cursor header. */
  alerts: async (status: AlertStatus, cursor: string | null): Promise<AlertPage> => {
    const answer = http.GET("/api/v1/alerts", { params: { query: { status, cursor, limit: 50 } } });
    const alerts = await unwrap(answer);
    return { alerts, next: (await answer).response.headers.get("X-Next-Cursor") };
  },
  alertRules: () => unwrap(http.GET("/api/v1/alerts/rules")) as Promise<AlertRules>,
  saveAlertRules: (body: AlertRules) => unwrap(http.PUT("/api/v1/alerts/rules", { body })) as Promise<AlertRules>,

  exports: () => unwrap(http.GET("/api/v1/privacy/exports")),
  startExport: () => unwrap(http.POST("/api/v1/privacy/export")),
  exportJob: (export_id: string) => unwrap(http.GET("/api/v1/privacy/exports/{export_id}", { params: { path: { export_id } } })),
  downloadExport: (export_id: string) => unwrap(http.GET("/api/v1/privacy/exports/{export_id}/download",
    { params: { path: { export_id } }, parseAs: "blob" })) as Promise<Blob>,
  erase: (email: string) => unwrap(http.POST("/api/v1/privacy/erase", { body: { email } })),
  deleteWorkspace: (confirm: string) => unwrap(http.DELETE("/api/v1/tenant", { body: { confirm } })),

  requestReset: (email: string) => unwrap(http.POST("/api/v1/auth/password-reset", { body: { email } })),
  confirmReset: (token: string, password: string) => unwrap(http.POST("/api/v1/auth/password-reset/confirm", { body: { token, password } })),
  changePassword: (current: string, next: string) => unwrap(http.POST("/api/v1/auth/password", { body: { current, new: next } })),
  sessions: () => unwrap(http.GET("/api/v1/auth/sessions")),
  endSession: (session_id: string) => unwrap(http.DELETE("/api/v1/auth/sessions/{session_id}", { params: { path: { session_id } } })),
  logout: () => unwrap(http.POST("/api/v1/auth/logout")),
};
