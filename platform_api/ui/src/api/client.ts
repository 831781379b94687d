// The typed API client (openapi-fetch over schema.d.ts): bearer token, problem+json errors as ApiError.
import createClient, { type Middleware } from "openapi-fetch";
import { problemFrom } from "./problems";
import type { paths } from "./schema";
import type { Graph, NodeTypeInfo, Run, Session, VersionInfo, Workflow } from "./types";

export { ApiError } from "./problems";

const TOKEN_KEY = "flowyard:session";

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

const session: Middleware = {
  onRequest({ request }) {
    for (const [name, value] of Object.entries(authHeaders())) request.headers.set(name, value);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && loadSession()) onUnauthorized();
  },
  onError({ error }) {
    if ((error as Error).name === "AbortError") return undefined; // rethrown as it is
    return problemFrom(0, "", { type: "network", detail: "Cannot reach Flowyard: check your connection.",
      hint: "Your work is kept in this browser." });
  },
};

export const http = createClient<paths>();
http.use(session);

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of a successful answer; any other answer is thrown as an ApiError. */
export async function unwrap<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw problemFrom(response.status, response.statusText, error);
  return data as T;
}

const workflowPath = (workflow_id: string) => ({ params: { path: { workflow_id } } });

export const api = {
  signup: (tenant_name: string, email: string, password: string) =>
    unwrap(http.POST("/api/v1/signup", { body: { tenant_name, email, password } })),
  login: (email: string, password: string) => unwrap(http.POST("/api/v1/auth/login", { body: { email, password } })),
  nodeTypes: () => unwrap(http.GET("/api/v1/node-types")) as Promise<NodeTypeInfo[]>,
  validate: (graph: Graph, signal?: AbortSignal) => unwrap(http.POST("/api/v1/graphs/validate", { body: { graph }, signal })),
  workflows: () => unwrap(http.GET("/api/v1/workflows")),
  workflow: (id: string) => unwrap(http.GET("/api/v1/workflows/{workflow_id}", workflowPath(id))) as Promise<Workflow>,
  createWorkflow: (name: string, graph: Graph) =>
    unwrap(http.POST("/api/v1/workflows", { body: { name, graph, allow_invalid: true } })) as Promise<Workflow>,
  saveWorkflow: (id: string, body: { graph?: Graph; name?: string; base_version?: number }) =>
    unwrap(http.PUT("/api/v1/workflows/{workflow_id}", { ...workflowPath(id), body: { ...body, allow_invalid: true } })) as Promise<Workflow>,
  versions: (id: string) => unwrap(http.GET("/api/v1/workflows/{workflow_id}/versions", workflowPath(id))) as Promise<VersionInfo[]>,
  version: (id: string, version: number) =>
    unwrap(http.GET("/api/v1/workflows/{workflow_id}/versions/{version}", { params: { path: { workflow_id: id, version } } })) as
      Promise<VersionInfo & { graph: Graph }>,
  publish: (id: string) => unwrap(http.POST("/api/v1/workflows/{workflow_id}/publish", workflowPath(id))) as Promise<Workflow>,
  startRun: (id: string, input: Record<string, unknown>, mode: "test" | "live") =>
    unwrap(http.POST("/api/v1/workflows/{workflow_id}/runs", { ...workflowPath(id), body: { input, mode } })),
  run: (id: string) => unwrap(http.GET("/api/v1/runs/{run_id}", { params: { path: { run_id: id } } })) as Promise<Run>,
};
