// The canvas contents with undo/redo and copy/paste. `record()` is called before every change that
// should be undoable; changes to the same field in quick succession make one undo step.
import { applyEdgeChanges, applyNodeChanges, type Edge, type EdgeChange, type NodeChange } from "@xyflow/react";
import { useCallback, useLayoutEffect, useRef, useState } from "react";
import type { Graph } from "../api/types";
import { shifted, toFlow, toGraph, withFreshIds, type StepNode } from "../lib/graph";

type Snapshot = { nodes: StepNode[]; edges: Edge[] };
const COALESCE_MS = 1500;
const PASTE_OFFSET = 40;
let clipboard: Graph | null = null;

export function useGraphState(initial: Graph) {
  const [nodes, setNodes] = useState<StepNode[]>(() => toFlow(initial).nodes);
  const [edges, setEdges] = useState<Edge[]>(() => toFlow(initial).edges);
  // The nodes and edges of the latest render, for the callbacks (which stay the same across renders).
  const live = useRef<Snapshot>({ nodes, edges });
  useLayoutEffect(() => {
    live.current = { nodes, edges };
  }, [nodes, edges]);
  const past = useRef<Snapshot[]>([]);
  const future = useRef<Snapshot[]>([]);
  const last = useRef({ key: "", at: 0 });
  const [history, setHistory] = useState({ canUndo: false, canRedo: false });
  const showHistory = useCallback(() => {
    setHistory({ canUndo: past.current.length > 0, canRedo: future.current.length > 0 });
  }, []);

  const record = useCallback((coalesceKey = "") => {
    const now = Date.now();
    if (coalesceKey && last.current.key === coalesceKey && now - last.current.at < COALESCE_MS) {
      last.current.at = now;
      return;
    }
    last.current = { key: coalesceKey, at: now };
    past.current = [...past.current.slice(-99), live.current];
    future.current = [];
    showHistory();
  }, [showHistory]);

  const restore = useCallback((from: typeof past, to: typeof future) => {
    const snapshot = from.current.at(-1);
    if (!snapshot) return;
    from.current = from.current.slice(0, -1);
    to.current = [...to.current, live.current];
    last.current = { key: "", at: 0 };
    setNodes(snapshot.nodes);
    setEdges(snapshot.edges);
    showHistory();
  }, [showHistory]);
  const undo = useCallback(() => restore(past, future), [restore]);
  const redo = useCallback(() => restore(future, past), [restore]);

  const onNodesChange = useCallback((changes: NodeChange<StepNode>[]) => setNodes((ns) => applyNodeChanges(changes, ns)), []);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => setEdges((es) => applyEdgeChanges(changes, es)), []);

  const reset = useCallback((graph: Graph) => {
    const flow = toFlow(graph);
    past.current = [];
    future.current = [];
    setNodes(flow.nodes);
    setEdges(flow.edges);
    showHistory();
  }, [showHistory]);

  const replace = useCallback((graph: Graph) => {
    record();
    const flow = toFlow(graph);
    setNodes(flow.nodes);
    setEdges(flow.edges);
  }, [record]);

  const copy = useCallback(() => {
    const { nodes: ns, edges: es } = live.current;
    const chosen = ns.filter((n) => n.selected);
    if (!chosen.length) return false;
    const ids = new Set(chosen.map((n) => n.id));
    clipboard = toGraph(chosen, es.filter((e) => ids.has(e.source) && ids.has(e.target)));
    return true;
  }, []);

  const paste = useCallback(() => {
    if (!clipboard) return;
    record();
    const { nodes: ns, edges: es } = live.current;
    clipboard = shifted(clipboard, PASTE_OFFSET); // each paste lands a little further
    const flow = toFlow(withFreshIds(clipboard, ns, es));
    setNodes([...ns.map((n) => ({ ...n, selected: false })), ...flow.nodes.map((n) => ({ ...n, selected: true }))]);
    setEdges([...es, ...flow.edges]);
  }, [record]);

  return {
    nodes, edges, setNodes, setEdges, onNodesChange, onEdgesChange, record, undo, redo, reset, replace, copy, paste,
    ...history, live,
  };
}

export type GraphState = ReturnType<typeof useGraphState>;
