import { describe, expect, it } from "vitest";
import { mergeMarks } from "./mergeMarks";

describe("mergeMarks", () => {
  it("marks added and changed steps and connections, and conflicts above both", () => {
    const marks = mergeMarks(
      [
        { path: "nodes.audit", op: "added" },
        { path: "nodes.audit.config.message", op: "changed" },
        { path: "nodes.shape.config.fields", op: "changed" },
        { path: "nodes.say.label", op: "changed" },
        { path: "nodes.gone", op: "removed" },
        { path: "edges.e3", op: "added" },
        { path: "edges.e2.target", op: "changed" },
      ],
      [{ path: "nodes.say.config.message" }, { path: "edges.e9" }],
    );
    expect(Object.fromEntries(marks.nodes)).toEqual({ audit: "added", shape: "changed", say: "conflict" });
    expect(Object.fromEntries(marks.edges)).toEqual({ e3: "added", e2: "changed", e9: "conflict" });
  });

  it("marks nothing for paths outside steps and connections", () => {
    const marks = mergeMarks([{ path: "version", op: "changed" }], [{ path: "settings" }]);
    expect(marks.nodes.size + marks.edges.size).toBe(0);
  });
});
