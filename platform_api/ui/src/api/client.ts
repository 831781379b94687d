// A small fetch wrapper: bearer token, JSON bodies, problem+json errors as ApiError.
import type {
  Graph, NodeTypeInfo, Run, RunSummary, Session, Validation, VersionInfo, Workflow, WorkflowSummary,
} from "./types";

const TOKEN_KEY = "flowyard:session";

export class ApiError extends Error {
  constructor(
    public status: number,
    public type: string,
    message: string,
    public hint?: string,
    public errors: { path: string; message: string; hint?: string }[] = [],
  ) {
    super(message);
  }
  /** True for a lost connection or a server-side failure: worth keeping the user's work locally. */
  get isTransient(): boolean {
    return this.status === 0 || this.status >= 500;
  }
  get isConflict(): boolean {
    return this.status === 409 && this.type.endsWith("/version-conflict");
  }
}

export function loadSession(): Session | null {
  try {
    return JSON.parse(localStorage.getItem(TOKEN_KEY) ?? "null");
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) localStorage.setItem(TOKEN_KEY, JSON.stringify(session));
  else localStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export function authHeaders(): Record<string, string> {
  const session = loadSession();
  return session ? { Authorization: `Bearer ${session.token}` } : {};
}

async function toApiError(response: Response): Promise<ApiError> {
  let body: { type?: string; detail?: string; title?: string; hint?: string; errors?: ApiError["errors"] } = {};
  try {
    body = await response.json();
  } catch {
    /* not JSON: keep the status text */
  }
  const message = body.detail ?? body.title ?? `${response.status} ${response.statusText}`;
  return new ApiError(response.status, body.type ?? "", message, body.hint, body.errors ?? []);
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      signal,
      headers: { ...authHeaders(), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "network", "Cannot reach Flowyard: check your connection.", "Your work is kept in this browser.");
  }
  if (response.status === 401 && loadSession()) onUnauthorized();
  if (!response.ok) throw await toApiError(response);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

type AuthAnswer = { token: string; tenant: Session["tenant"] };

export const api = {
  signup: (tenant_name: string, email: string, password: string) =>
    request<AuthAnswer>("POST", "/signup", { tenant_name, email, password }),
  login: (email: string, password: string) => request<AuthAnswer>("POST", "/auth/login", { email, password }),
  nodeTypes: () => request<NodeTypeInfo[]>("GET", "/node-types"),
  validate: (graph: Graph, signal?: AbortSignal) => request<Validation>("POST", "/graphs/validate", { graph }, signal),
  workflows: () => request<WorkflowSummary[]>("GET", "/workflows"),
  workflow: (id: string) => request<Workflow>("GET", `/workflows/${id}`),
  createWorkflow: (name: string, graph: Graph) =>
    request<Workflow>("POST", "/workflows", { name, graph, allow_invalid: true }),
  saveWorkflow: (id: string, body: { graph?: Graph; name?: string; base_version?: number }) =>
    request<Workflow>("PUT", `/workflows/${id}`, { ...body, allow_invalid: true }),
  versions: (id: string) => request<VersionInfo[]>("GET", `/workflows/${id}/versions`),
  version: (id: string, version: number) =>
    request<VersionInfo & { graph: Graph }>("GET", `/workflows/${id}/versions/${version}`),
  publish: (id: string) => request<Workflow>("POST", `/workflows/${id}/publish`),
  startRun: (id: string, input: Record<string, unknown>, mode: "test" | "live") =>
    request<{ run_id: string; status: string }>("POST", `/workflows/${id}/runs`, { input, mode }),
  runs: (workflowId?: string) =>
    request<RunSummary[]>("GET", `/runs${workflowId ? `?workflow_id=${encodeURIComponent(workflowId)}` : ""}`),
  run: (id: string) => request<Run>("GET", `/runs/${id}`),
};
