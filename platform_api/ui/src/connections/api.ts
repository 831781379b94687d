// The connections API: a tenant's credentials for SendGrid, Twilio, X, ... (GET /api/v1/connection-types,
// /api/v1/connections and their test, OAuth start and delete calls).
import { http, unwrap } from "../api/client";
import type { components } from "../api/schema";
import type { JsonSchema } from "../api/types";

type Schemas = components["schemas"];

export type ConnectionType = Omit<Schemas["ConnectionTypeRead"], "schema"> & { schema: JsonSchema };
export type ConnectionStatus = Schemas["ConnectionStatus"];
export type Connection = Schemas["ConnectionRead"];
export type ConnectionCreate = Schemas["ConnectionCreate"];
export type ConnectionUpdate = Schemas["ConnectionUpdate"];
export type TestResult = Schemas["ConnectionTestRead"];
export type SetupAnswer = Schemas["SetupRead"];
/** One error of the 409 that refuses to delete a connection still in use: a workflow using it. */
export type WorkflowUsingIt = Schemas["WorkflowUsingConnection"];

const one = (connection_id: string) => ({ params: { path: { connection_id } } });

export const connections = {
  types: () => unwrap(http.GET("/api/v1/connection-types")) as Promise<ConnectionType[]>,
  list: (type?: string, signal?: AbortSignal) => unwrap(http.GET("/api/v1/connections", { params: { query: { type } }, signal })),
  read: (id: string) => unwrap(http.GET("/api/v1/connections/{connection_id}", one(id))),
  create: (body: ConnectionCreate) => unwrap(http.POST("/api/v1/connections", { body })),
  update: (id: string, body: ConnectionUpdate) => unwrap(http.PATCH("/api/v1/connections/{connection_id}", { ...one(id), body })),
  remove: (id: string) => unwrap(http.DELETE("/api/v1/connections/{connection_id}", one(id))),
  test: (id: string) => unwrap(http.POST("/api/v1/connections/{connection_id}/test", one(id))),
  startOAuth: (id: string) => unwrap(http.POST("/api/v1/connections/{connection_id}/oauth/start", one(id))),
  /** Puts a connection in every step of its type of a workflow (POST /workflows/{id}/setup). */
  useIn: (workflowId: string, type: string, connectionId: string) => unwrap(http.POST("/api/v1/workflows/{workflow_id}/setup", {
    params: { path: { workflow_id: workflowId } }, body: { connections: { [type]: connectionId } },
  })),
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
