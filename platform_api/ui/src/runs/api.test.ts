import { describe, expect, it } from "vitest";
import { filtersFromSearch, filtersToSearch, localDay, NO_FILTERS, runsQuery, type RunFilters } from "./api";
import { toggled } from "./RunFilters";
import { searchPrompt } from "./RunSearch";

describe("runsQuery", () => {
  it("leaves out unset filters", () => {
    expect(runsQuery(NO_FILTERS)).toEqual({});
  });

  it("sends statuses, workflow, mode and trigger as they are", () => {
    expect(runsQuery({ ...NO_FILTERS, statuses: ["failed", "cancelled"], workflowId: "w1", mode: "live", trigger: "retry" }))
      .toEqual({ status: ["failed", "cancelled"], workflow_id: "w1", mode: "live", trigger: "retry" });
  });

  it("sends days as instants with a zone, the last day included", () => {
    const query = runsQuery({ ...NO_FILTERS, createdFrom: "2026-03-01", createdTo: "2026-03-02" });
    expect(query.created_after).toBe(new Date(2026, 2, 1).toISOString());
    expect(query.created_before).toBe(new Date(2026, 2, 3).toISOString());
    expect(query.created_before).toMatch(/Z$/);
  });
});

describe("runsQuery's search", () => {
  it("sends the value trimmed, and the field only with a value", () => {
    expect(runsQuery({ ...NO_FILTERS, search: " ada@example.com ", searchField: "email" })).toEqual({ search: "ada@example.com", search_field: "email" });
    expect(runsQuery({ ...NO_FILTERS, search: "+4915112345" })).toEqual({ search: "+4915112345" });
    expect(runsQuery({ ...NO_FILTERS, search: "  ", searchField: "email" })).toEqual({});
  });
});

describe("localDay", () => {
  it("rolls over the end of a month", () => {
    expect(localDay("2026-01-31", 1)).toBe(new Date(2026, 1, 1).toISOString());
  });
});

describe("toggled", () => {
  it("adds a status in the chips' order and takes a chosen one out", () => {
    expect(toggled(["failed"], "running")).toEqual(["running", "failed"]);
    expect(toggled(["running", "failed"], "failed")).toEqual(["running"]);
  });
});

describe("filters in the address", () => {
  it("round-trip, unset ones left out", () => {
    const filters: RunFilters = { statuses: ["running", "failed"], workflowId: "w1", mode: "test", trigger: "webhook", createdFrom: "2026-03-01", createdTo: "",
      search: "ada@example.com", searchField: "email" };
    const search = filtersToSearch(filters);
    expect(search).toBe("status=running&status=failed&workflow=w1&mode=test&trigger=webhook&from=2026-03-01&q=ada%40example.com&in=email");
    expect(filtersFromSearch(new URLSearchParams(search))).toEqual(filters);
    expect(filtersToSearch(NO_FILTERS)).toBe("");
  });

  it("ignore what they do not know", () => {
    expect(filtersFromSearch(new URLSearchParams("status=lost&mode=x&trigger=y&from=yesterday"))).toEqual(NO_FILTERS);
  });
});

describe("searchPrompt", () => {
  it("names the workspace's search fields as people say them", () => {
    expect(searchPrompt(["email", "phone", "customer_id", "order_id"])).toBe("Find runs by email, phone, customer or order id");
    expect(searchPrompt(["account_number"])).toBe("Find runs by account number");
    expect(searchPrompt([])).toBe("Find runs by a value in their input");
  });
});
