// A graph drawn read-only with the editor's step nodes, in a React Flow store of its own: nothing can be moved,
// connected, selected or focused; zoom and fit still work. Used where a graph is shown, not edited (a version
// diff's sides, a template's preview).
import { Background, Controls, ReactFlow, ReactFlowProvider, type Edge, type Node, type NodeTypes } from "@xyflow/react";
import { FIT } from "./Canvas";
import { EditorContext, type EditorEnv } from "./context";

const PRO_OPTIONS = { hideAttribution: true };

type Props<N extends Node> = { nodes: N[]; edges: Edge[]; nodeTypes: NodeTypes; env: EditorEnv };

export function ReadOnlyCanvas<N extends Node>({ nodes, edges, nodeTypes, env }: Props<N>) {
  return (
    <EditorContext.Provider value={env}>
      <ReactFlowProvider>
        <ReactFlow<N>
          nodes={nodes} edges={edges} nodeTypes={nodeTypes}
          nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} nodesFocusable={false}
          edgesFocusable={false} zoomOnScroll={false} preventScrolling={false} zoomOnDoubleClick={false}
          fitView fitViewOptions={FIT} minZoom={0.1} maxZoom={2} proOptions={PRO_OPTIONS}
        >
          <Background gap={20} size={1.2} color="#d7dbe7" />
          <Controls showInteractive={false} fitViewOptions={FIT} />
        </ReactFlow>
      </ReactFlowProvider>
    </EditorContext.Provider>
  );
}
