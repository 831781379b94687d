import { describe, expect, it } from "vitest";
import type { Graph } from "../api/types";
import { indexErrors } from "./errors";

const graph: Graph = {
  nodes: [
    { id: "start", type: "trigger.manual", label: "Start", config: {}, position: { x: 0, y: 0 } },
    { id: "call", type: "http.request", label: "Call", config: {}, position: { x: 200, y: 0 } },
  ],
  edges: [],
};
const error = (path: string) => ({ path, message: `bad ${path}`, hint: "fix it" });

describe("indexErrors", () => {
  it("puts a step's errors on that step, and its settings' errors on their field", () => {
    const url = error("nodes[1].config.url");
    const label = error("nodes[1].label");
    const indexed = indexErrors([url, label], graph);
    expect(indexed.byNode.get("call")).toEqual([url, label]);
    expect(indexed.byField.get("call")?.get("url")).toEqual([url]);
    expect(indexed.byNode.has("start")).toBe(false);
  });

  it("keeps errors about the workflow, or a step that is gone, for the problems list", () => {
    const edges = error("edges[0].target");
    const gone = error("nodes[5].config.url");
    const indexed = indexErrors([edges, gone], graph);
    expect(indexed.general).toEqual([edges, gone]);
    expect(indexed.all).toHaveLength(2);
  });
});
