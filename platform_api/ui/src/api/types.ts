// Shapes of the platform API (v1) that the builder uses.

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  readOnly?: boolean;
  writeOnly?: boolean;
  /** On a step's `connection` field: the connection type (sendgrid, twilio, ...) it must name. */
  "x-connection-type"?: string;
};

export type NodeTypeInfo = {
  type: string;
  label: string;
  category: string;
  description: string;
  config_schema: JsonSchema;
  inputs: string[];
  outputs: string[];
  sample_output: Record<string, unknown>;
  docs_url: string;
  is_trigger: boolean;
};

export type GraphNode = {
  id: string;
  type: string;
  label: string;
  config: Record<string, unknown>;
  position: { x: number; y: number };
};

export type GraphEdge = { id: string; source: string; source_handle: string | null; target: string };

export type Graph = { nodes: GraphNode[]; edges: GraphEdge[] };

export type GraphError = { path: string; message: string; hint: string };

export type Validation = { valid: boolean; errors: GraphError[] };

export type WorkflowSummary = {
  id: string;
  name: string;
  slug: string;
  description: string;
  version: number;
  status: "draft" | "published";
  published_version: number | null;
  created_at: string;
  updated_at: string;
};

export type Workflow = WorkflowSummary & {
  graph: Graph;
  valid: boolean;
  errors: GraphError[];
  deployment_name: string | null;
};

export type VersionInfo = { version: number; valid: boolean; created_at: string; created_by: string | null };

export type RunStatus = "scheduled" | "pending" | "running" | "waiting" | "completed" | "failed" | "cancelled";

export const FINAL_STATUSES: RunStatus[] = ["completed", "failed", "cancelled"];

export type StepError = { message: string; hint?: string | null; retryable?: boolean };

export type Step = {
  node_id: string;
  status: string;
  attempts: number;
  started_at: string | null;
  ended_at: string | null;
  input: unknown;
  output: unknown;
  error: StepError | null;
};

export type RunSummary = {
  id: string;
  workflow_id: string;
  version: number;
  mode: "test" | "live";
  status: RunStatus;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  error: { node_id?: string; message: string; hint?: string } | null;
};

export type LogLine = { timestamp: string; level: string; node_id: string | null; message: string };

export type Run = RunSummary & { steps: Step[]; logs: LogLine[] };

export type Session = { token: string; tenant: { id: string; slug: string; name?: string }; email: string };
