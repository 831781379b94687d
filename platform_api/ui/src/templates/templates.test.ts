import { describe, expect, it } from "vitest";
import { INITIAL_TRIGGER, triggerOverrides } from "./TriggerChoice";
import { pathText } from "./UpgradePage";

describe("triggerOverrides", () => {
  it("keeps the template's trigger by default", () => {
    expect(triggerOverrides(INITIAL_TRIGGER)).toBeUndefined();
  });
  it("sends a webhook's auth, a schedule's cron or interval and time zone, or a manual trigger", () => {
    expect(triggerOverrides({ ...INITIAL_TRIGGER, kind: "trigger.webhook", auth: "bearer" }))
      .toEqual({ type: "trigger.webhook", config: { auth: "bearer" } });
    expect(triggerOverrides({ ...INITIAL_TRIGGER, kind: "trigger.schedule", cron: " 0 9 * * 1-5 ", timezone: "Europe/Paris" }))
      .toEqual({ type: "trigger.schedule", config: { schedules: [{ cron: "0 9 * * 1-5", timezone: "Europe/Paris" }] } });
    expect(triggerOverrides({ ...INITIAL_TRIGGER, kind: "trigger.schedule", repeat: "interval", interval: "15" }))
      .toEqual({ type: "trigger.schedule", config: { schedules: [{ interval_minutes: 15, timezone: null }] } });
    expect(triggerOverrides({ ...INITIAL_TRIGGER, kind: "trigger.manual" })).toEqual({ type: "trigger.manual" });
  });
});

describe("pathText", () => {
  const graph = { nodes: [{ id: "shape", type: "data.transform", label: "Write it", config: {}, position: { x: 0, y: 0 } }], edges: [] };
  it("names steps by their label, else their id", () => {
    expect(pathText("nodes.shape.config.fields", graph)).toBe("Step “Write it” › config › fields");
    expect(pathText("nodes.audit", graph)).toBe("Step “audit”");
    expect(pathText("edges.e3", graph)).toBe("Connection e3");
  });
});
