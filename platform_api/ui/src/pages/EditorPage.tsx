// Loads a workflow and the node types, then opens the editor (read-only on a phone).
import { ReactFlowProvider } from "@xyflow/react";
import { useEffect, useState } from "react";
import { api } from "../api/client";
import type { NodeTypeInfo, Workflow } from "../api/types";
import { Editor } from "../editor/Editor";
import { useMediaQuery } from "../lib/route";

export function EditorPage({ id }: { id: string }) {
  const [data, setData] = useState<{ workflow: Workflow; types: NodeTypeInfo[] } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const narrow = useMediaQuery("(max-width: 760px)");
  useEffect(() => {
    setData(null);
    Promise.all([api.workflow(id), api.nodeTypes()])
      .then(([workflow, types]) => setData({ workflow, types }))
      .catch((e: Error) => setProblem(e.message));
  }, [id]);
  if (problem) return <main className="page"><div className="callout callout-error">{problem} <a href="#/">Back to workflows</a></div></main>;
  if (!data) return <main className="page muted">Loading the workflow…</main>;
  return (
    <ReactFlowProvider>
      <Editor key={data.workflow.id} initial={data.workflow} nodeTypes={data.types} readOnly={narrow} />
    </ReactFlowProvider>
  );
}
