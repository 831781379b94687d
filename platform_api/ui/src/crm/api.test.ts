import { describe, expect, it } from "vitest";
import { byStage, contactQuery, customName, moved, parseTags, takeLines, targetOptions, type Deal } from "./api";

const deal = (id: string, stage: Deal["stage"]): Deal => ({
  id, stage, title: id, amount: null, currency: "USD", contact_id: null, company_id: null, properties: {}, closed_at: null,
  created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", test_data: false,
});

describe("crm rules", () => {
  it("sends only the filters that are set, trimmed, with the tag in lower case", () => {
    expect(contactQuery({ q: "  ann ", tag: " VIP", companyId: "" })).toEqual({ q: "ann", tag: "vip" });
    expect(contactQuery({ q: "", tag: "", companyId: "c1" })).toEqual({ company_id: "c1" });
  });

  it("reads tags as the API stores them", () => {
    expect(parseTags("VIP, lead,, vip ")).toEqual(["vip", "lead"]);
  });

  it("keeps an unfinished progress line for the next chunk", () => {
    const first = takeLines('{"processed":100,"total":200,"created":100,"updated":0,"failed":0,"errors":[],"done":false}\n{"proc');
    expect(first.lines.map((l) => l.processed)).toEqual([100]);
    expect(first.rest).toBe('{"proc');
    const second = takeLines(first.rest + 'essed":200,"total":200,"created":199,"updated":0,"failed":1,"errors":[{"line":3,"field":"email","message":"bad"}],"done":true}\n');
    expect(second.lines[0]).toMatchObject({ processed: 200, done: true, errors: [{ line: 3, field: "email" }] });
    expect(second.rest).toBe("");
  });

  it("offers skip, the fields and a custom field named after the column", () => {
    const options = targetOptions("Plan (2024)", ["email", "tags"]);
    expect(options.map((o) => o.value)).toEqual(["", "email", "tags", "properties.plan_2024"]);
    expect(customName("  ")).toBe("field");
  });

  it("groups deals by stage in the stages' order and moves a card to the top of its new column", () => {
    const deals = [deal("a", "lead"), deal("b", "won"), deal("c", "lead")];
    expect(Object.keys(byStage(deals, ["lead", "won", "lost"]))).toEqual(["lead", "won", "lost"]);
    expect(byStage(deals, ["lead", "won"]).lead.map((d) => d.id)).toEqual(["a", "c"]);
    const after = moved(deals, "c", "won");
    expect(byStage(after, ["lead", "won"]).won.map((d) => d.id)).toEqual(["c", "b"]);
    expect(moved(deals, "a", "lead")).toBe(deals);
  });
});
