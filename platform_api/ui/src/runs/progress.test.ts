import { describe, expect, it } from "vitest";
import type { Step } from "../api/types";
import { errorKindLabel, etaText, queueText, roughly, timeline } from "./progress";

const step = (node_id: string, started_at: string | null, ended_at: string | null, status = "completed") =>
  ({ node_id, item_index: null, status, attempts: 1, started_at, ended_at, input: null, output: null, error: null }) as Step;

describe("etaText", () => {
  const now = new Date("2026-03-10T12:00:00Z").getTime();
  it("says how long is left, by when, and at the latest", () => {
    const text = etaText({ p50: "2026-03-10T12:00:12Z", p90: "2026-03-10T12:00:30Z", based_on_runs: 4 }, now);
    expect(text).toMatch(/^Should finish in about 12 s \(by \d\d:\d\d:12\), at the latest \d\d:\d\d:30$/);
  });

  it("owns up when the run is late", () => {
    expect(etaText({ p50: "2026-03-10T11:59:50Z", p90: "2026-03-10T12:00:30Z", based_on_runs: 4 }, now)).toMatch(/^Taking longer than usual/);
  });
});

describe("words", () => {
  it("rounds durations as people say them", () => {
    expect(roughly(42.4)).toBe("42 s");
    expect(roughly(300)).toBe("5 min");
    expect(roughly(-3)).toBe("0 s");
  });

  it("names kinds as the help page does and places a run in the queue", () => {
    expect(errorKindLabel("auth")).toBe("Credentials rejected");
    expect(errorKindLabel("something_new")).toBe("something_new");
    expect(queueText({ position: 3, held_by: "quota", detail: "Your workspace is busy." })).toBe("Number 3 in the queue — Your workspace is busy.");
  });
});

describe("timeline", () => {
  it("puts every started step on one axis, in the order they started", () => {
    const line = timeline([
      step("b", "2026-01-01T10:00:01Z", "2026-01-01T10:00:04Z"),
      step("a", "2026-01-01T10:00:00Z", "2026-01-01T10:00:01Z"),
      step("c", null, null, "pending"),
    ], 0)!;
    expect(line.bars.map((b) => [b.nodeId, Math.round(b.left), Math.round(b.width), b.ms])).toEqual([["a", 0, 25, 1000], ["b", 25, 75, 3000]]);
  });

  it("draws a step still going up to now, and nothing before any step started", () => {
    const now = new Date("2026-01-01T10:00:02Z").getTime();
    expect(timeline([step("a", "2026-01-01T10:00:00Z", null, "running")], now)!.bars[0].ms).toBe(2000);
    expect(timeline([step("a", null, null, "pending")], now)).toBeNull();
  });
});
