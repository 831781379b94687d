// Reads of workflows, runs and node types through the query cache, and the writes that change them.
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { isPending, type PublishPending } from "../publish/api";
import { api, http, unwrap } from "./client";
import type { components } from "./schema";
import type { Graph, Workflow } from "./types";

export type { PublishPending };
/** What a publish did: the workflow as it is live now, or the request that waits for approval. */
export type PublishOutcome = { published: Workflow; pending?: undefined } | { pending: PublishPending; published?: undefined };

/** A 200 (the workflow, published) or a 202 (a publish request) of POST /publish or /restore. */
async function publishOutcome(call: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<PublishOutcome> {
  const body = await unwrap(call);
  const { response } = await call;
  return response.status === 202 && isPending(body) ? { pending: body } : { published: body as Workflow };
}

export const keys = {
  nodeTypes: ["node-types"] as const,
  workflows: ["workflows"] as const,
  workflow: (id: string) => ["workflows", id] as const,
  versions: (id: string) => ["workflows", id, "versions"] as const,
  version: (id: string, version: number) => ["workflows", id, "versions", version] as const,
  versionDiff: (id: string, a: number, b: number) => ["workflows", id, "versions", "diff", a, b] as const,
  run: (id: string | null) => ["run", id] as const,
};

export const versionQuery = (workflowId: string, version: number) => ({
  queryKey: keys.version(workflowId, version),
  queryFn: () => api.version(workflowId, version),
  staleTime: Infinity, // a saved version never changes
});

export const workflowQuery = (id: string) => ({ queryKey: keys.workflow(id), queryFn: () => api.workflow(id) });

export function useNodeTypes() {
  return useQuery({ queryKey: keys.nodeTypes, queryFn: api.nodeTypes, staleTime: 5 * 60_000 });
}

export function useWorkflows() {
  return useQuery({ queryKey: keys.workflows, queryFn: api.workflows });
}

export function useWorkflow(id: string | null | undefined, options: { refetchOnWindowFocus?: boolean } = {}) {
  return useQuery({ ...workflowQuery(id ?? ""), enabled: !!id, ...options });
}

export function useVersions(workflowId: string) {
  return useQuery({ queryKey: keys.versions(workflowId), queryFn: () => api.versions(workflowId) });
}

export function useVersion(workflowId: string | undefined, version: number | undefined) {
  return useQuery({ ...versionQuery(workflowId ?? "", version ?? 0), enabled: !!workflowId && version !== undefined });
}

/** What changed from version `a` to version `b` (secret values masked by the API); saved versions never change. */
export function useVersionDiff(workflowId: string, a: number | undefined, b: number | undefined) {
  return useQuery({
    queryKey: keys.versionDiff(workflowId, a ?? 0, b ?? 0),
    queryFn: () => unwrap(http.GET("/api/v1/workflows/{workflow_id}/versions/{a}/diff/{b}", {
      params: { path: { workflow_id: workflowId, a: a ?? 0, b: b ?? 0 } },
    })),
    enabled: a !== undefined && b !== undefined && a !== b,
    staleTime: Infinity,
  });
}

export type VersionRestore = components["schemas"]["VersionRestore"];

/** A rollback: version `version`'s graph saved as a new version and (unless `publish: false`) published, or, where
 * publishing needs approval, sent for it (a 202: `pending`). */
export function useRestoreVersion(workflowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ version, ...body }: VersionRestore & { version: number }) =>
      publishOutcome(http.POST("/api/v1/workflows/{workflow_id}/versions/{version}/restore", {
        params: { path: { workflow_id: workflowId, version } }, body,
      })),
    onSuccess: (outcome) => {
      if (outcome.published) return storeWorkflow(client, outcome.published);
      void client.invalidateQueries({ queryKey: keys.workflow(workflowId), exact: true });
      void client.invalidateQueries({ queryKey: keys.versions(workflowId), exact: true });
      void client.invalidateQueries({ queryKey: ["publish-requests"] });
    },
    // A failed publish still saved the restored version as a draft: the list shows it either way.
    onError: () => client.invalidateQueries({ queryKey: keys.versions(workflowId), exact: true }),
  });
}

/** A workflow as the server now has it: in the cache, and every list that shows it marked stale. */
export function storeWorkflow(client: QueryClient, workflow: Workflow): void {
  client.setQueryData(keys.workflow(workflow.id), workflow);
  void client.invalidateQueries({ queryKey: keys.workflows, exact: true });
  void client.invalidateQueries({ queryKey: keys.versions(workflow.id), exact: true });
}

export function useCreateWorkflow() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, graph }: { name: string; graph: Graph }) => api.createWorkflow(name, graph),
    onSuccess: (workflow) => storeWorkflow(client, workflow),
  });
}

export function useSaveWorkflow(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Parameters<typeof api.saveWorkflow>[1]) => api.saveWorkflow(id, body),
    onSuccess: (workflow) => storeWorkflow(client, workflow),
  });
}

/** A workflow's own settings: what happens when a run is still going as the next starts, and its approval rule. */
export type WorkflowSettings = Pick<components["schemas"]["WorkflowUpdate"], "conflict_policy" | "max_parallel" | "publish_requires_approval">;

/** Saves only a workflow's settings (no graph: no new version), then reads the workflow again. */
export function useSaveWorkflowSettings(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: WorkflowSettings) =>
      unwrap(http.PUT("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: id } }, body })) as Promise<Workflow>,
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.workflows, exact: true });
      return client.invalidateQueries({ queryKey: keys.workflow(id), exact: true });
    },
  });
}

/** Publishes the latest version, or (a 202) asks for approval to. */
export function usePublishWorkflow(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => publishOutcome(http.POST("/api/v1/workflows/{workflow_id}/publish", { params: { path: { workflow_id: id } } })),
    onSuccess: (outcome) => {
      if (outcome.published) storeWorkflow(client, outcome.published);
      else void client.invalidateQueries({ queryKey: ["publish-requests"] });
    },
  });
}

type RunStart = { workflowId: string; input: Record<string, unknown>; mode: "test" | "live" };

export function useStartRun() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ workflowId, input, mode }: RunStart) => api.startRun(workflowId, input, mode),
    onSuccess: () => client.invalidateQueries({ queryKey: ["runs"] }),
  });
}
