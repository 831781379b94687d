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

export type ImportRequest = { text: string; format: FileFormat; dryRun: boolean };

export const workflowFiles = {
  exportWorkflow: (workflowId: string, format: FileFormat) => download(http.GET("/api/v1/workflows/{workflow_id}/export", {
    params: { path: { workflow_id: workflowId }, query: { format } }, parseAs: "blob",
  })),
  exportWorkspace: (format: "flowyard" | "yaml") => download(http.GET("/api/v1/workspace/export", {
    params: { query: { format } }, parseAs: "blob",
  })),
  /** The file's text as it is: JSON, YAML or BPMN XML, with the content type of its format. */
  importWorkflow: async ({ text, format, dryRun }: ImportRequest): Promise<ImportResult> => {
    const { data, error, response } = await http.POST("/api/v1/workflows/import", {
      params: { query: { dry_run: dryRun, format } },
      body: text as never,
      bodySerializer: (body: unknown) => body as string,
      headers: { "Content-Type": CONTENT_TYPES[format] },
    });
    if (!response.ok) throw problemFrom(response.status, response.statusText, error);
    return data as ImportResult;
  },
};

/** An import (or its dry run); a real one marks the workflow list, and the workflow it wrote, stale. */
export function useImportWorkflow() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: workflowFiles.importWorkflow,
    onSuccess: async (result) => {
      if (result.dry_run || result.action === "unchanged") return;
      await client.invalidateQueries({ queryKey: keys.workflows, exact: true });
      if (result.workflow_id) await client.invalidateQueries({ queryKey: keys.workflow(result.workflow_id) });
    },
  });
}
