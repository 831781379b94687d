// Auto-layout with dagre: left to right, in the order the steps run.
import { Graph, layout } from "@dagrejs/dagre";
import type { Edge } from "@xyflow/react";
import { NODE_HEIGHT, NODE_WIDTH, type StepNode } from "./graph";

export function autoLayout(nodes: StepNode[], edges: Edge[]): StepNode[] {
  const g = new Graph();
  g.setGraph({ rankdir: "LR", nodesep: 32, ranksep: 64 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    g.setNode(node.id, { width: node.measured?.width ?? NODE_WIDTH, height: node.measured?.height ?? NODE_HEIGHT });
  }
  for (const edge of edges) g.setEdge(edge.source, edge.target);
  layout(g);
  return nodes.map((node) => {
    const { x, y, width, height } = g.node(node.id);
    return { ...node, position: { x: x - width / 2, y: y - height / 2 } };
  });
}
