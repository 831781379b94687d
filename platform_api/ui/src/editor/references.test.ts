import { describe, expect, it } from "vitest";
import type { Graph, NodeTypeInfo, Step } from "../api/types";
import { toFlow, type TypeMap } from "../lib/graph";
import { buildReferences } from "./references";

const types: TypeMap = new Map([
  ["trigger.manual", { type: "trigger.manual", is_trigger: true, sample_output: { name: "Ada" } } as unknown as NodeTypeInfo],
  ["http.request", { type: "http.request", is_trigger: false, sample_output: { status: 200 } } as unknown as NodeTypeInfo],
]);
const graph: Graph = {
  nodes: [
    { id: "start", type: "trigger.manual", label: "New lead", config: { sample: { email: "ada@example.com", "first name": "Ada" } }, position: { x: 0, y: 0 } },
    { id: "fetch", type: "http.request", label: "Look up", config: {}, position: { x: 200, y: 0 } },
    { id: "send", type: "http.request", label: "Send", config: {}, position: { x: 400, y: 0 } },
    { id: "elsewhere", type: "http.request", label: "Unrelated", config: {}, position: { x: 0, y: 200 } },
  ],
  edges: [
    { id: "e1", source: "start", target: "fetch", source_handle: null },
    { id: "e2", source: "fetch", target: "send", source_handle: null },
  ],
};
const { nodes, edges } = toFlow(graph);
const expressions = (steps = new Map<string, Step>()) =>
  buildReferences("send", nodes, edges, types, steps).map((g) => [g.title, g.references.map((r) => r.expression)]);

describe("buildReferences", () => {
  it("offers the trigger's sample fields and the outputs of the steps before, not of other steps", () => {
    expect(expressions()).toEqual([
      ["Trigger · New lead", ["{{ trigger.email }}", '{{ trigger["first name"] }}']],
      ["Look up", ["{{ steps.fetch.output.status }}"]],
    ]);
  });

  it("prefers what the last test run produced, nested fields included", () => {
    const ran = { node_id: "fetch", status: "completed", output: { body: { id: 7 } } } as unknown as Step;
    expect(expressions(new Map([["fetch", ran]]))[1]).toEqual(
      ["Look up", ["{{ steps.fetch.output.body }}", "{{ steps.fetch.output.body.id }}"]],
    );
  });

  it("offers nothing for a step whose output is unknown", () => {
    const blank = new Map(types);
    blank.set("http.request", { type: "http.request", is_trigger: false } as NodeTypeInfo);
    const groups = buildReferences("send", nodes, edges, blank, new Map());
    expect(groups.map((g) => g.title)).toEqual(["Trigger · New lead"]);
  });
});
