import { describe, expect, it } from "vitest";
import type { Run, Step } from "../api/types";
import { applyEvent } from "./useRun";

const step = (node_id: string, status: string, item_index: number | null = null) =>
  ({ node_id, item_index, status, attempts: 1, started_at: null, ended_at: null, input: null, output: null, error: null }) as Step;
const run = { id: "r1", status: "running", steps: [step("a", "running")] } as Run;
const event = (name: string, data: unknown) => ({ event: name, data: JSON.stringify(data) });

describe("applyEvent", () => {
  it("updates a step that changed and adds one that started", () => {
    const after = applyEvent(applyEvent(run, event("step", step("a", "completed"))), event("step", step("b", "running")));
    expect(after.steps.map((s) => [s.node_id, s.status])).toEqual([["a", "completed"], ["b", "running"]]);
  });

  it("keeps each item of a loop as its own step", () => {
    const first = applyEvent(run, event("step", step("each", "completed", 0)));
    const second = applyEvent(first, event("step", step("each", "running", 1)));
    expect(second.steps.filter((s) => s.node_id === "each").map((s) => s.item_index)).toEqual([0, 1]);
  });

  it("follows the run's status and ignores other events", () => {
    expect(applyEvent(run, event("status", { run_id: "r1", status: "failed" })).status).toBe("failed");
    expect(applyEvent(run, event("ping", {}))).toBe(run);
  });
});
