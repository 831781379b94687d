// Workflow files over the API (docs/workflow-files.md): a workflow's or the workspace's export as a file to save,
// and an import, checked first (dry run) and then done. The import's hooks keep the workflow list fresh.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { http } from "../api/client";
import { problemFrom } from "../api/problems";
import { keys } from "../api/queries";
import { CONTENT_TYPES, fileNameFromDisposition, type FileFormat, type ImportResult } from "./files";

/** A file the API sent: its content and the name the server gave it (Content-Disposition), if any. */
export type Download = { blob: Blob; fileName: string | null };

type Answer = { data?: unknown; error?: unknown; response: Response };

async function download(call: Promise<Answer>): Promise<Download> {
  const { data, error, response } = await call;
  if (!response.ok) throw problemFrom(response.status, response.statusText, error);
  return { blob: data as Blob, fileName: fileNameFromDisposition(response.headers.get("content-disposition")) };
}

/** A file's text as it is (JSON, YAML or BPMN XML); `workspace`: a workspace file (several workflows). */
export type ImportRequest = { text: string; format: FileFormat; dryRun: boolean; workspace?: boolean };

const rawBody = (text: string, format: FileFormat) => ({
  body: text as never,
  bodySerializer: (body: unknown) => body as string,
  headers: { "Content-Type": CONTENT_TYPES[format] },
});

export const workflowFiles = {
  exportWorkflow: (workflowId: string, format: FileFormat) => download(http.GET("/api/v1/workflows/{workflow_id}/export", {
    params: { path: { workflow_id: workflowId }, query: { format } }, parseAs: "blob",
  })),
  exportWorkspace: (format: "flowyard" | "yaml") => download(http.GET("/api/v1/workspace/export", {
    params: { query: { format } }, parseAs: "blob",
  })),
  importWorkflow: async ({ text, format, dryRun }: ImportRequest): Promise<ImportResult> => {
    const { data, error, response } = await http.POST("/api/v1/workflows/import", {
      params: { query: { dry_run: dryRun, format } }, ...rawBody(text, format),
    });
    if (!response.ok) throw problemFrom(response.status, response.statusText, error);
    return data as ImportResult;
  },
  /** Every workflow of a workspace file: all checked first, none written if any is invalid. */
  importWorkspace: async ({ text, format, dryRun }: ImportRequest): Promise<ImportResult[]> => {
    const { data, error, response } = await http.POST("/api/v1/workspace/import", {
      params: { query: { dry_run: dryRun, format: format === "yaml" ? "yaml" : "flowyard" } }, ...rawBody(text, format),
    });
    if (!response.ok) throw problemFrom(response.status, response.statusText, error);
    return (data as { results: ImportResult[] }).results;
  },
  /** Either kind of file: the answers, one per workflow. */
  importFile: async (request: ImportRequest): Promise<ImportResult[]> =>
    request.workspace ? workflowFiles.importWorkspace(request) : [await workflowFiles.importWorkflow(request)],
};

/** An import of a workflow or workspace file (or its dry run): one answer per workflow. A real one marks the
 * workflow list, and each workflow it wrote, stale. */
export function useImportFile() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: workflowFiles.importFile,
    onSuccess: async (results) => {
      const written = results.filter((r) => !r.dry_run && r.action !== "unchanged");
      if (!written.length) return;
      await client.invalidateQueries({ queryKey: keys.workflows, exact: true });
      await Promise.all(written.flatMap((r) => (r.workflow_id ? [client.invalidateQueries({ queryKey: keys.workflow(r.workflow_id) })] : [])));
    },
  });
}
