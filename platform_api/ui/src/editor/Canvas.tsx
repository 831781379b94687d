// The React Flow canvas: dropping steps from the palette, drawing connections (refused with the
// reason when they cannot work), moving, deleting, zoom and minimap. Every change is undoable.
import {
  Background, Controls, MiniMap, Panel, ReactFlow, useConnection, useReactFlow,
  type Connection, type ConnectionState, type Edge, type FinalConnectionState, type XYPosition,
} from "@xyflow/react";
import { useCallback, useState, type DragEvent } from "react";
import { useToast } from "../components/Toasts";
import { connectionProblem, DEFAULT_HANDLE, newEdgeId, nodeAt, toFlowEdge, type StepNode } from "../lib/graph";
import { useSelector } from "../lib/store";
import { useEditorEnv } from "./context";
import { DRAG_MIME } from "./Palette";
import { DELETE_KEYS } from "./shortcuts";
import { StepNode as StepNodeView } from "./StepNode";
import type { GraphState } from "./useGraphState";

const NODE_TYPES = { step: StepNodeView };
export const FIT = { maxZoom: 1.1, padding: 0.15 };
const STATUS_COLOURS: Record<string, string> = {
  running: "#2563eb", completed: "#16a34a", failed: "#dc2626", waiting: "#d97706",
};

const PRO_OPTIONS = { hideAttribution: true };
const MULTI_SELECT_KEYS = ["Meta", "Control", "Shift"];

/** Why the connection being drawn to `at` (flow coordinates) cannot be made; null: it can, or it points at nothing. */
type Reason = (connection: FinalConnectionState | ConnectionState, at: XYPosition | null) => string | null;

/** Shows, while a connection is drawn, why it cannot be made. */
function ConnectionHint({ reason }: { reason: Reason }) {
  const connection = useConnection(); // its `to` is in flow coordinates
  const text = reason(connection, connection.to);
  return text ? <Panel position="top-center"><div className="connection-hint" role="alert">{text}</div></Panel> : null;
}

type Props = { state: GraphState; readOnly: boolean; onAdd: (type: string, at: XYPosition) => void };

export function Canvas({ state, readOnly, onAdd }: Props) {
  const { types, decorations } = useEditorEnv();
  const toast = useToast();
  const { record, setEdges, live } = state; // live.current: the nodes and edges of the latest render
  const { screenToFlowPosition } = useReactFlow();
  const [fitOnOpen] = useState(state.nodes.length > 0); // an empty canvas keeps its scale as the first step is dropped

  const reason = useCallback<Reason>((c, at) => {
    if (!c.fromNode || !c.fromHandle || !at) return null;
    const { nodes, edges } = live.current;
    const from = c.fromNode.id;
    const to = c.toNode?.id ?? nodeAt(at, nodes); // a node without an input handle (a trigger) still counts
    if (!to || (to === from && !c.toHandle)) return null;
    const connection = c.fromHandle.type === "target"
      ? { source: to, target: from, sourceHandle: DEFAULT_HANDLE }
      : { source: from, target: to, sourceHandle: c.fromHandle.id };
    return connectionProblem(connection, nodes, edges, types);
  }, [types, live]);

  const isValidConnection = useCallback((c: Edge | Connection) => {
    const { nodes, edges } = live.current;
    return !connectionProblem(c, nodes, edges, types);
  }, [types, live]);

  const onConnect = useCallback((c: Connection) => {
    record();
    setEdges((edges) => {
      const id = newEdgeId(new Set(edges.map((e) => e.id)));
      const handle = c.sourceHandle && c.sourceHandle !== DEFAULT_HANDLE ? c.sourceHandle : null;
      return [...edges, toFlowEdge({ id, source: c.source, source_handle: handle, target: c.target })];
    });
  }, [record, setEdges]);

  const onConnectEnd = useCallback((event: MouseEvent | TouchEvent, s: FinalConnectionState) => {
    const point = "changedTouches" in event ? event.changedTouches[0] : event;
    const text = s.isValid ? null : reason(s, screenToFlowPosition({ x: point.clientX, y: point.clientY }));
    if (text) toast(`Can't connect: ${text}`, "error");
  }, [reason, toast, screenToFlowPosition]);

  const onDrop = useCallback((event: DragEvent) => {
    const type = event.dataTransfer.getData(DRAG_MIME);
    if (!type) return;
    event.preventDefault();
    onAdd(type, { x: event.clientX, y: event.clientY });
  }, [onAdd]);

  const onDragOver = useCallback((event: DragEvent) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
  }, []);

  const recordDrag = useCallback(() => record("drag"), [record]);
  const onBeforeDelete = useCallback(async () => {
    record();
    return true;
  }, [record]);

  const { steps, errors } = useSelector(decorations, (d) => d); // a new colour function redraws the minimap
  const miniMapColour = useCallback((node: StepNode) => {
    const status = steps.get(node.id)?.status;
    if (status && STATUS_COLOURS[status]) return STATUS_COLOURS[status];
    return errors.has(node.id) ? "#f87171" : types.get(node.data.type)?.is_trigger ? "#818cf8" : "#cbd5e1";
  }, [steps, errors, types]);

  return (
    <div className="canvas" onDrop={onDrop} onDragOver={onDragOver}>
      <ReactFlow<StepNode>
        nodes={state.nodes} edges={state.edges} nodeTypes={NODE_TYPES}
        onNodesChange={state.onNodesChange} onEdgesChange={state.onEdgesChange}
        onConnect={onConnect} onConnectEnd={onConnectEnd} isValidConnection={isValidConnection}
        onNodeDragStart={recordDrag} onSelectionDragStart={recordDrag} onBeforeDelete={onBeforeDelete}
        nodesDraggable={!readOnly} nodesConnectable={!readOnly} deleteKeyCode={readOnly ? null : DELETE_KEYS}
        multiSelectionKeyCode={MULTI_SELECT_KEYS}
        fitView={fitOnOpen} fitViewOptions={FIT} minZoom={0.1} maxZoom={2}
        proOptions={PRO_OPTIONS}
      >
        <Background gap={20} size={1.2} color="#d7dbe7" />
        <Controls showInteractive={false} fitViewOptions={FIT} />
        <MiniMap pannable zoomable nodeColor={miniMapColour} nodeStrokeWidth={2} />
        {!readOnly && <ConnectionHint reason={reason} />}
      </ReactFlow>
    </div>
  );
}
