// A template's graph drawn read-only on the canvas, with the editor's own step nodes (icons, handles,
// labels): nothing can be moved, connected or selected. The steps are listed as text too, for screen readers.
import { Background, Controls, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { useMemo, useState } from "react";
import { useNodeTypes } from "../api/queries";
import type { Graph } from "../api/types";
import { createDecorations, EditorContext } from "../editor/context";
import { StepNode } from "../editor/StepNode";
import { toFlow } from "../lib/graph";

const NODE_TYPES = { step: StepNode };
const PRO_OPTIONS = { hideAttribution: true };
const FIT = { maxZoom: 1.1, padding: 0.15 }; // as the editor fits its canvas

export function GraphPreview({ graph, label }: { graph: Graph; label: string }) {
  const nodeTypes = useNodeTypes();
  const [decorations] = useState(createDecorations);
  const env = useMemo(
    () => ({ types: new Map((nodeTypes.data ?? []).map((t) => [t.type, t])), decorations }),
    [nodeTypes.data, decorations],
  );
  const flow = useMemo(() => toFlow(graph), [graph]);
  const typeLabel = (type: string) => env.types.get(type)?.label ?? type;
  return (
    <figure className="template-graph" aria-label={label}>
      <div className="template-canvas" data-testid="template-canvas">
        {!graph.nodes.length ? <p className="muted template-canvas-note">This template has no steps.</p>
          : !nodeTypes.data && !nodeTypes.error ? <p className="muted template-canvas-note" role="status">Loading the steps…</p>
          : (
            <EditorContext.Provider value={env}>
              <ReactFlowProvider>
                <ReactFlow
                  nodes={flow.nodes} edges={flow.edges} nodeTypes={NODE_TYPES}
                  nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} nodesFocusable={false}
                  edgesFocusable={false} zoomOnScroll={false} preventScrolling={false} zoomOnDoubleClick={false}
                  fitView fitViewOptions={FIT} minZoom={0.1} maxZoom={2} proOptions={PRO_OPTIONS}
                >
                  <Background gap={20} size={1.2} color="#d7dbe7" />
                  <Controls showInteractive={false} fitViewOptions={FIT} />
                </ReactFlow>
              </ReactFlowProvider>
            </EditorContext.Provider>
          )}
      </div>
      <figcaption>
        <details>
          <summary>The {graph.nodes.length} steps as a list</summary>
          <ol className="template-steps" aria-label="Steps">
            {graph.nodes.map((node) => (
              <li key={node.id}><strong>{node.label || node.id}</strong> <span className="muted small">{typeLabel(node.type)}</span></li>
            ))}
          </ol>
        </details>
      </figcaption>
    </figure>
  );
}
