import { describe, expect, it } from "vitest";
import type { Graph, NodeTypeInfo } from "../api/types";
import type { TypeMap } from "../lib/graph";
import {
  changeCount, comparePair, diffMarks, edgeText, fieldText, fieldTitle, labelsOf, markedFlow, shortValue, triggerText,
  type VersionDiff,
} from "./versionDiff";

const ref = (id: string, type = "util.log") => ({ id, type, label: id.toUpperCase() });
const node = (id: string, type = "util.log", x = 0) => ({ id, type, label: id, config: {}, position: { x, y: 0 } });

const diff: VersionDiff = {
  from_version: 1,
  to_version: 2,
  nodes_added: [ref("sms")],
  nodes_removed: [ref("old")],
  nodes_moved: [{ ...ref("start", "trigger.manual"), before: { x: 0, y: 0 }, after: { x: 0, y: 80 } }],
  nodes_changed: [{ ...ref("say"), fields: [{ path: "config.message", before: "Hi", after: "Hello" }] }],
  edges_added: [{ id: "e3", source: "say", target: "sms", source_handle: null }],
  edges_removed: [{ id: "e9", source: "say", target: "old", source_handle: null }],
  edges_changed: [{ id: "e2", before: { id: "e2", source: "a", target: "b" }, after: { id: "e2", source: "a", target: "c" } }],
  trigger: null,
  unchanged: false,
};

const typeInfo = (type: string, label: string, config_schema: NodeTypeInfo["config_schema"] = {}): NodeTypeInfo => ({
  type, label, config_schema, category: "", description: "", inputs: [], outputs: [], sample_output: {}, docs_url: "",
  is_trigger: type.startsWith("trigger."),
});
const types: TypeMap = new Map([
  ["trigger.manual", typeInfo("trigger.manual", "Manual trigger")],
  ["trigger.webhook", typeInfo("trigger.webhook", "Webhook")],
  ["util.log", typeInfo("util.log", "Log", { properties: { message: { title: "Message" } } })],
]);

describe("diffMarks", () => {
  it("marks removed steps on the left, added on the right, changed and moved on both", () => {
    const { before, after } = diffMarks(diff);
    expect(Object.fromEntries(before.nodes)).toEqual({ old: "removed", start: "moved", say: "changed" });
    expect(Object.fromEntries(after.nodes)).toEqual({ sms: "added", start: "moved", say: "changed" });
    expect(Object.fromEntries(before.edges)).toEqual({ e9: "removed", e2: "changed" });
    expect(Object.fromEntries(after.edges)).toEqual({ e3: "added", e2: "changed" });
  });

  it("marks nothing for an unchanged diff with its lists left out", () => {
    const { before, after } = diffMarks({ from_version: 1, to_version: 2, unchanged: true });
    expect(before.nodes.size + before.edges.size + after.nodes.size + after.edges.size).toBe(0);
  });
});

describe("markedFlow", () => {
  it("gives marked nodes and edges their class and keeps the error edge's", () => {
    const graph: Graph = {
      nodes: [node("say"), node("sms", "sms.twilio", 300), node("keep", "util.log", 600)],
      edges: [
        { id: "e3", source: "say", source_handle: null, target: "sms" },
        { id: "e4", source: "sms", source_handle: "error", target: "keep" },
      ],
    };
    const { nodes, edges } = markedFlow(graph, diffMarks(diff).after);
    expect(nodes.map((n) => [n.id, n.className, n.data.diff])).toEqual([
      ["say", "diff-changed", "changed"], ["sms", "diff-added", "added"], ["keep", undefined, undefined],
    ]);
    expect(edges.map((e) => e.className)).toEqual(["diff-edge-added", "edge-error"]);
  });
});

describe("comparePair", () => {
  const versions = [1, 2, 3, 4].map((version) => ({ version }));
  it("compares with the live version, older on the left", () => {
    expect(comparePair(4, versions, 2)).toEqual({ from: 2, to: 4 });
    expect(comparePair(1, versions, 2)).toEqual({ from: 1, to: 2 });
  });
  it("compares the live version with the latest, or with the one before when it is the latest", () => {
    expect(comparePair(2, versions, 2)).toEqual({ from: 2, to: 4 });
    expect(comparePair(4, versions, 4)).toEqual({ from: 3, to: 4 });
  });
  it("uses the latest when nothing is live", () => {
    expect(comparePair(1, versions, null)).toEqual({ from: 1, to: 4 });
    expect(comparePair(4, versions, null)).toEqual({ from: 3, to: 4 });
  });
  it("has nothing to compare with a single version", () => {
    expect(comparePair(1, [{ version: 1 }], 1)).toBeNull();
  });
});

describe("texts", () => {
  it("says before → after, added, removed, and never a secret's value", () => {
    expect(fieldText({ path: "config.message", before: "Hi", after: "Hello" })).toBe("Hi → Hello");
    expect(fieldText({ path: "config.retries", before: null, after: 3 })).toBe("added: 3");
    expect(fieldText({ path: "config.subject", before: "Old", after: null })).toBe("removed (was Old)");
    expect(fieldText({ path: "config.api_key", before: "••••", after: "••••", secret: true })).toBe("changed (secret)");
    expect(fieldText({ path: "config.token", before: null, after: "••••", secret: true })).toBe("added (secret)");
  });

  it("shortens long values and shows objects as JSON", () => {
    expect(shortValue({ a: 1 })).toBe('{"a":1}');
    expect(shortValue("x".repeat(300))).toHaveLength(120);
    expect(shortValue("")).toBe("(empty)");
  });

  it("names fields from the config schema", () => {
    expect(fieldTitle("config.message", "util.log", types)).toBe("Message");
    expect(fieldTitle("label", "util.log", types)).toBe("Step name");
    expect(fieldTitle("config.other", "util.log", types)).toBeNull();
  });

  it("calls out what starts the workflow", () => {
    expect(triggerText({ change: "replaced", before: "trigger.manual", after: "trigger.webhook" }, types))
      .toBe("What starts this workflow changed: Manual trigger → Webhook");
    expect(triggerText({ change: "replaced", before: "trigger.manual", after: "trigger.unknown" }, new Map()))
      .toBe("What starts this workflow changed: manual → unknown");
    expect(triggerText({ change: "removed", before: "trigger.webhook", after: null }, types)).toContain("nothing starts it");
    expect(triggerText({ change: "changed", before: "trigger.webhook", after: "trigger.webhook",
      fields: [{ path: "config.secret_header", secret: true }] }, types)).toContain("Webhook trigger's settings (secret_header)");
  });

  it("describes connections by their steps' labels", () => {
    const labelOf = labelsOf({ nodes: [node("a")], edges: [] }, { nodes: [{ ...node("a"), label: "Check" }, node("b")], edges: [] });
    expect(edgeText({ id: "e", source: "a", target: "b", source_handle: "true" }, labelOf)).toBe("Check (true) → b");
    expect(edgeText({ id: "e", source: "a", target: "gone" }, labelOf)).toBe("Check → gone");
  });

  it("counts the changes", () => {
    expect(changeCount(diff)).toBe(7);
  });
});
