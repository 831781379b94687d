// A template's graph drawn read-only on the canvas, with the editor's own step nodes (icons, handles,
// labels): nothing can be moved, connected or selected. The steps are listed as text too, for screen readers.
import { useMemo, useState } from "react";
import { useNodeTypes } from "../api/queries";
import type { Graph } from "../api/types";
import { createDecorations } from "../editor/context";
import { ReadOnlyCanvas } from "../editor/ReadOnlyCanvas";
import { StepNode } from "../editor/StepNode";
import { toFlow } from "../lib/graph";

const NODE_TYPES = { step: StepNode };

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
            <ReadOnlyCanvas nodes={flow.nodes} edges={flow.edges} nodeTypes={NODE_TYPES} env={env} />
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
