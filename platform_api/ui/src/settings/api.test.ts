import { describe, expect, it } from "vitest";
import { auditQuery, retentionChanges } from "./api";

describe("auditQuery", () => {
  it("leaves out empty filters, trims the others and keeps the cursor", () => {
    expect(auditQuery({ action: " member.invited ", actor: "", target: undefined }, "abc", 20))
      .toEqual({ limit: 20, action: "member.invited", cursor: "abc" });
  });

  it("sends times as ISO instants", () => {
    const local = "2026-03-01T10:30";
    const query = auditQuery({ from: local });
    expect(query.from).toBe(new Date(local).toISOString());
    expect(query).not.toHaveProperty("cursor");
  });
});

describe("retentionChanges", () => {
  const current = { run_history_days: 90, step_payload_days: 30, log_days: 14 };

  it("sends only the fields that changed, as numbers", () => {
    expect(retentionChanges({ run_history_days: "90", step_payload_days: "7", log_days: "14" }, current)).toEqual({ step_payload_days: 7 });
  });

  it("returns a cleared field to the default", () => {
    expect(retentionChanges({ run_history_days: " ", step_payload_days: "30", log_days: "14" }, current)).toEqual({ run_history_days: null });
  });
});
