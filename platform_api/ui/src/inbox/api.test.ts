import { describe, expect, it } from "vitest";
import { contextRows, countText, groupByKind, kindLabel, notificationLink, type Notification } from "./api";

const note = (id: string, kind: string, created_at: string, links: Partial<Notification> = {}): Notification => ({
  id, kind, created_at, title: id, body: "", data: null, read_at: null, ...links,
});

describe("notification centre rules", () => {
  it("groups by kind in a fixed order, newest first, unknown kinds last", () => {
    const groups = groupByKind([
      note("a", "template_updated", "2026-01-01T00:00:00Z"),
      note("b", "step_failed", "2026-01-01T00:00:00Z"),
      note("c", "something_new", "2026-01-03T00:00:00Z"),
      note("d", "step_failed", "2026-01-02T00:00:00Z"),
    ]);
    expect(groups.map((g) => g.kind)).toEqual(["step_failed", "template_updated", "something_new"]);
    expect(groups[0].items.map((n) => n.id)).toEqual(["d", "b"]);
    expect(groups[0].label).toBe("Failed steps");
    expect(kindLabel("something_new")).toBe("Something new");
  });

  it("links to the run first, then the publish request, the workflow, the template", () => {
    expect(notificationLink({ run_id: "r", workflow_id: "w" })).toEqual({ href: "#/runs/r", label: "Open the run" });
    expect(notificationLink({ request_id: "p", workflow_id: "w" })?.href).toBe("#/publish-requests/p");
    expect(notificationLink({ workflow_id: "w" })?.href).toBe("#/workflows/w");
    expect(notificationLink({ template_slug: "t" })?.href).toBe("#/templates/t");
    expect(notificationLink({})).toBeNull();
  });

  it("shows badges only when there is something, capped at 99+", () => {
    expect(countText(undefined)).toBe("");
    expect(countText(0)).toBe("");
    expect(countText(7)).toBe("7");
    expect(countText(150)).toBe("99+");
  });

  it("shows a run's data as rows", () => {
    expect(contextRows({ name: "Ada", amount: 120, tags: ["vip"] })).toEqual([
      { key: "name", value: "Ada" }, { key: "amount", value: "120" }, { key: "tags", value: '["vip"]' },
    ]);
  });
});
