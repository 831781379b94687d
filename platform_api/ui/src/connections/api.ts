// The connections API: a tenant's credentials for SendGrid, Twilio, X, ... (GET /api/v1/connection-types,
// /api/v1/connections and their test, OAuth start and delete calls).
import { request } from "../api/client";
import type { JsonSchema } from "../api/types";

export type ConnectionType = {
  type: string;
  label: string;
  docs_url: string;
  config_fields: string[];
  secret_fields: string[];
  oauth: boolean;
  schema: JsonSchema;
  actions: string[];
};

export type ConnectionStatus = "untested" | "ok" | "failed" | "needs_auth";

export type Connection = {
  id: string;
  type: string;
  name: string;
  block_name: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>; // which secrets are set, masked
  status: ConnectionStatus;
  last_error: { message: string; hint?: string | null } | null;
  use_for_alerts: boolean;
  token_expires_at: string | null;
  created_at: string;
  updated_at: string;
  last_tested_at: string | null;
};

export type ConnectionCreate = {
  type: string;
  name: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
  use_for_alerts: boolean;
};

export type ConnectionUpdate = {
  config?: Record<string, unknown>;
  secrets?: Record<string, string | null>;
  use_for_alerts?: boolean;
};

export type TestResult = { ok: boolean; message: string; hint?: string | null };

export type SetupAnswer = {
  unbound_steps: { node_id: string; connection_type: string }[];
  setup_complete: boolean;
  workflow: { id: string; name: string; version: number };
};

const one = (id: string) => `/connections/${encodeURIComponent(id)}`;

export const connections = {
  types: () => request<ConnectionType[]>("GET", "/connection-types"),
  list: (type?: string, signal?: AbortSignal) =>
    request<Connection[]>("GET", `/connections${type ? `?type=${encodeURIComponent(type)}` : ""}`, undefined, signal),
  read: (id: string) => request<Connection>("GET", one(id)),
  create: (body: ConnectionCreate) => request<Connection>("POST", "/connections", body),
  update: (id: string, body: ConnectionUpdate) => request<Connection>("PATCH", one(id), body),
  remove: (id: string) => request<void>("DELETE", one(id)),
  test: (id: string) => request<TestResult>("POST", `${one(id)}/test`),
  startOAuth: (id: string) => request<{ authorize_url: string; expires_at: string }>("POST", `${one(id)}/oauth/start`),
  /** Puts a connection in every step of its type of a workflow (POST /workflows/{id}/setup). */
  useIn: (workflowId: string, type: string, connectionId: string) =>
    request<SetupAnswer>("POST", `/workflows/${encodeURIComponent(workflowId)}/setup`, { connections: { [type]: connectionId } }),
};

/** "Flowyard SendGrid" -> "SendGrid". */
export const typeLabel = (type: ConnectionType | undefined, slug: string): string =>
  type ? type.label.replace(/^Flowyard /, "") : slug;

export const STATUS_LABELS: Record<ConnectionStatus, string> = {
  untested: "Not tested", ok: "Working", failed: "Failed", needs_auth: "Needs Connect",
};

/** Fields the network fills when the account is connected (OAuth): never typed by a person. The API does
 * not mark them (no readOnly in the schema), so they are named here; readOnly is honoured too. */
const SET_BY_CONNECT = new Set(["access_token", "refresh_token", "expires_at", "username"]);

export function editableFields(type: ConnectionType): string[] {
  return Object.entries(type.schema.properties ?? {})
    .filter(([name, spec]) => !spec.readOnly && !(type.oauth && SET_BY_CONNECT.has(name)))
    .filter(([name]) => type.config_fields.includes(name) || type.secret_fields.includes(name))
    .map(([name]) => name);
}
