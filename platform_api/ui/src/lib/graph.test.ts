import { describe, expect, it } from "vitest";
import type { Graph, NodeTypeInfo } from "../api/types";
import {
  connectionProblem, DEFAULT_HANDLE, logicalKey, newEdgeId, newNodeId, nodeAt, toFlow, toGraph, upstreamIds, withFreshIds,
  type StepNode, type TypeMap,
} from "./graph";

const node = (id: string, type = "util.log", x = 0, y = 0) => ({ id, type, label: id, config: {}, position: { x, y } });
const edge = (source: string, target: string, source_handle: string | null = null) =>
  ({ id: `${source}-${target}`, source, source_handle, target });

const graph: Graph = {
  nodes: [node("start", "trigger.manual"), node("check", "logic.condition", 200), node("say", "util.log", 400)],
  edges: [edge("start", "check"), edge("check", "say", "true")],
};
const types: TypeMap = new Map([
  ["trigger.manual", { type: "trigger.manual", is_trigger: true } as NodeTypeInfo],
  ["util.log", { type: "util.log", is_trigger: false } as NodeTypeInfo],
]);

describe("toFlow and toGraph", () => {
  it("give back the saved graph, with the default output as no handle", () => {
    const { nodes, edges } = toFlow(graph);
    expect(edges[0].sourceHandle).toBe(DEFAULT_HANDLE);
    expect(toGraph(nodes, edges)).toEqual(graph);
  });

  it("save whole-pixel positions and draw error routes apart", () => {
    const flow = toFlow({ nodes: [node("a")], edges: [edge("a", "b", "error")] });
    const moved = flow.nodes.map((n) => ({ ...n, position: { x: 10.6, y: -3.2 } }));
    expect(toGraph(moved, flow.edges).nodes[0].position).toEqual({ x: 11, y: -3 });
    expect(flow.edges[0].className).toBe("edge-error");
  });
});

describe("logicalKey", () => {
  it("ignores a move, so that moving a step does not validate again", () => {
    const moved = { ...graph, nodes: graph.nodes.map((n) => ({ ...n, position: { x: n.position.x + 50, y: 9 } })) };
    expect(logicalKey(moved)).toBe(logicalKey(graph));
  });

  it("changes with a step's settings", () => {
    const edited = { ...graph, nodes: graph.nodes.map((n) => (n.id === "say" ? { ...n, config: { message: "hi" } } : n)) };
    expect(logicalKey(edited)).not.toBe(logicalKey(graph));
  });
});

describe("newNodeId", () => {
  it("makes an identifier of a label, unique among the steps", () => {
    expect(newNodeId("Transform data", new Set())).toBe("transform_data");
    expect(newNodeId("Transform data", new Set(["transform_data", "transform_data_2"]))).toBe("transform_data_3");
  });

  it("never starts with a digit and is never empty", () => {
    expect(newNodeId("3 reminders", new Set())).toBe("step_3_reminders");
    expect(newNodeId("!!!", new Set())).toBe("step");
  });
});

describe("newEdgeId", () => {
  it("skips ids in use", () => {
    expect(newEdgeId(new Set(["e1", "e2", "e3"]))).toBe("e4");
    expect(newEdgeId(new Set(["e2"]))).toBe("e3");
  });
});

describe("upstreamIds", () => {
  it("lists what runs before a step, nearest first, even around a loop", () => {
    const edges = [{ source: "a", target: "b" }, { source: "b", target: "c" }, { source: "c", target: "b" }];
    expect(upstreamIds("c", edges)).toEqual(["b", "a"]);
    expect(upstreamIds("a", edges)).toEqual([]);
  });
});

describe("connectionProblem", () => {
  const { nodes, edges } = toFlow(graph);
  const problem = (source: string, target: string, sourceHandle: string | null = null) =>
    connectionProblem({ source, target, sourceHandle }, nodes, edges, types);

  it("allows a new connection between two steps", () => {
    expect(problem("start", "say")).toBeNull();
  });

  it("refuses a step connected to itself or into a trigger", () => {
    expect(problem("say", "say")).toMatch(/itself/);
    expect(problem("say", "start")).toMatch(/trigger/);
  });

  it("refuses a connection drawn twice from the same output, not from another output", () => {
    expect(problem("check", "say", "true")).toMatch(/already connected/);
    expect(problem("check", "say", "false")).toBeNull();
  });

  it("refuses a loop", () => {
    expect(problem("say", "check")).toMatch(/loop/);
  });
});

describe("nodeAt", () => {
  it("finds the step drawn on top at a point", () => {
    const nodes = toFlow({ nodes: [node("below", "util.log", 0, 0), node("above", "util.log", 100, 0)], edges: [] }).nodes;
    expect(nodeAt({ x: 150, y: 10 }, nodes)).toBe("above");
    expect(nodeAt({ x: 50, y: 10 }, nodes)).toBe("below");
    expect(nodeAt({ x: 50, y: 500 }, nodes)).toBeNull();
  });
});

describe("withFreshIds", () => {
  it("renames pasted steps that clash and keeps their connections between them", () => {
    const canvas = toFlow(graph);
    const piece: Graph = { nodes: [node("say"), node("other")], edges: [edge("say", "other")] };
    const pasted = withFreshIds(piece, canvas.nodes as StepNode[], canvas.edges);
    expect(pasted.nodes.map((n) => n.id)).toEqual(["say_2", "other"]);
    expect(pasted.edges[0]).toMatchObject({ source: "say_2", target: "other" });
    expect(canvas.edges.map((e) => e.id)).not.toContain(pasted.edges[0].id);
  });
});
