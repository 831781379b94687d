// Converts between the API graph and React Flow's nodes and edges, and checks connections.
import type { Edge, Node, XYPosition } from "@xyflow/react";
import type { Graph, GraphEdge, GraphNode, NodeTypeInfo } from "../api/types";

/** `disabled`: the step does not run when the workflow runs; its input passes through (a trigger cannot be). */
export type StepData = { label: string; type: string; config: Record<string, unknown>; disabled?: boolean };
export type StepNode = Node<StepData, "step">;
export type TypeMap = Map<string, NodeTypeInfo>;

export const DEFAULT_HANDLE = "default";
export const NODE_WIDTH = 240; // as drawn by .step-node; the real size once measured
export const NODE_HEIGHT = 72;
const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function toFlowNode(node: GraphNode): StepNode {
  return {
    id: node.id,
    type: "step",
    position: { x: node.position?.x ?? 0, y: node.position?.y ?? 0 },
    data: { label: node.label ?? "", type: node.type, config: node.config ?? {}, ...(node.disabled ? { disabled: true } : {}) },
  };
}

export function toFlowEdge(edge: GraphEdge): Edge {
  const handle = edge.source_handle ?? DEFAULT_HANDLE;
  return {
    id: edge.id,
    source: edge.source,
    sourceHandle: handle,
    target: edge.target,
    className: handle === "error" ? "edge-error" : undefined,
  };
}

export function toFlow(graph: Graph): { nodes: StepNode[]; edges: Edge[] } {
  return { nodes: (graph.nodes ?? []).map(toFlowNode), edges: (graph.edges ?? []).map(toFlowEdge) };
}

export function toGraph(nodes: StepNode[], edges: Edge[]): Graph {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      type: n.data.type,
      label: n.data.label,
      config: n.data.config,
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      ...(n.data.disabled ? { disabled: true } : {}), // an enabled step has no field: older graphs stay as they were
    })),
    edges: edges.map((e) => ({
      id: e.id,
      source: e.source,
      source_handle: !e.sourceHandle || e.sourceHandle === DEFAULT_HANDLE ? null : e.sourceHandle,
      target: e.target,
    })),
  };
}

/** What validation depends on (positions left out), to skip re-validating after a mere move. */
export function logicalKey(graph: Graph): string {
  return JSON.stringify([graph.nodes.map((n) => [n.id, n.type, n.label, n.config, !!n.disabled]), graph.edges]);
}

/** "Transform data" -> "transform_data", made unique among `taken`. */
export function newNodeId(base: string, taken: Set<string>): string {
  let stem = base.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "step";
  if (!ID_PATTERN.test(stem)) stem = `step_${stem}`;
  if (!taken.has(stem)) return stem;
  for (let i = 2; ; i++) if (!taken.has(`${stem}_${i}`)) return `${stem}_${i}`;
}

export function newEdgeId(taken: Set<string>): string {
  for (let i = taken.size + 1; ; i++) if (!taken.has(`e${i}`)) return `e${i}`;
}

/** The node drawn at `point` (flow coordinates), topmost first. */
export function nodeAt(point: XYPosition, nodes: StepNode[]): string | null {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const { position: p, measured } = nodes[i];
    const width = measured?.width ?? NODE_WIDTH;
    const height = measured?.height ?? NODE_HEIGHT;
    if (point.x >= p.x && point.x <= p.x + width && point.y >= p.y && point.y <= p.y + height) return nodes[i].id;
  }
  return null;
}

/** Ids of every node that runs before `nodeId`, nearest first. */
export function upstreamIds(nodeId: string, edges: Pick<Edge, "source" | "target">[]): string[] {
  const seen: string[] = [];
  let frontier = [nodeId];
  while (frontier.length) {
    const next = edges.filter((e) => frontier.includes(e.target)).map((e) => e.source);
    frontier = next.filter((id) => id !== nodeId && !seen.includes(id));
    seen.push(...new Set(frontier));
  }
  return seen;
}

/** Why the connection cannot be drawn, or null when it can. */
export function connectionProblem(
  connection: { source: string; target: string; sourceHandle?: string | null },
  nodes: StepNode[],
  edges: Edge[],
  types: TypeMap,
): string | null {
  const { source, target } = connection;
  if (source === target) return "A step cannot connect to itself.";
  const targetNode = nodes.find((n) => n.id === target);
  const targetType = targetNode && types.get(targetNode.data.type);
  if (targetType?.is_trigger) return "A trigger starts the workflow, so it cannot have inputs.";
  const handle = connection.sourceHandle ?? DEFAULT_HANDLE;
  if (edges.some((e) => e.source === source && e.target === target && (e.sourceHandle ?? DEFAULT_HANDLE) === handle))
    return "These steps are already connected.";
  if (upstreamIds(source, edges).includes(target))
    return "That would make a loop: this step already runs before the other one.";
  return null;
}

/** `piece` with node and edge ids that do not clash with the canvas (for paste). */
export function withFreshIds(piece: Graph, nodes: StepNode[], edges: Edge[]): Graph {
  const taken = new Set(nodes.map((n) => n.id));
  const edgeIds = new Set(edges.map((e) => e.id));
  const renamed = new Map<string, string>();
  for (const node of piece.nodes) {
    const id = newNodeId(node.id, taken);
    taken.add(id);
    renamed.set(node.id, id);
  }
  return {
    nodes: piece.nodes.map((n) => ({ ...n, id: renamed.get(n.id)! })),
    edges: piece.edges.map((e) => {
      const id = newEdgeId(edgeIds);
      edgeIds.add(id);
      return { ...e, id, source: renamed.get(e.source)!, target: renamed.get(e.target)! };
    }),
  };
}

export function shifted(piece: Graph, by: number): Graph {
  return { ...piece, nodes: piece.nodes.map((n) => ({ ...n, position: { x: n.position.x + by, y: n.position.y + by } })) };
}
