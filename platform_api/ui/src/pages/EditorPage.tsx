// Loads a workflow and the node types, then opens the editor (on a phone: settings and publish, no canvas drags).
import { ReactFlowProvider } from "@xyflow/react";
import { useNodeTypes, useWorkflow } from "../api/queries";
import { Editor } from "../editor/Editor";
import { useMediaQuery } from "../lib/route";

export function EditorPage({ id }: { id: string }) {
  // The editor starts from the server's latest version, never from a cached one; then it owns the graph.
  const workflow = useWorkflow(id, { refetchOnWindowFocus: false });
  const types = useNodeTypes();
  const narrow = useMediaQuery("(max-width: 760px)");
  const problem = workflow.error ?? types.error;
  if (workflow.data && workflow.isFetchedAfterMount && types.data) {
    return (
      <ReactFlowProvider>
        <Editor key={workflow.data.id} initial={workflow.data} nodeTypes={types.data} readOnly={false} narrow={narrow} />
      </ReactFlowProvider>
    );
  }
  if (problem) return <main className="page"><div className="callout callout-error">{problem.message} <a href="#/">Back to workflows</a></div></main>;
  return <main className="page muted">Loading the workflow…</main>;
}
