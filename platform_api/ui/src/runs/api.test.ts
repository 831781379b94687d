import { describe, expect, it } from "vitest";
import { filtersFromSearch, filtersToSearch, NO_FILTERS, runsQuery, type RunFilters } from "./api";
import { toggled } from "./RunFilters";
import { searchPrompt } from "./RunSearch";

describe("runsQuery", () => {
  it("leaves out unset filters", () => {
    expect(runsQuery(NO_FILTERS, undefined)).toEqual({});
  });

  it("sends statuses, workflow, mode and trigger as they are", () => {
    expect(runsQuery({ ...NO_FILTERS, statuses: ["failed", "cancelled"], workflowId: "w1", mode: "live", trigger: "retry" }, undefined))
      .toEqual({ status: ["failed", "cancelled"], workflow_id: "w1", mode: "live", trigger: "retry" });
  });

  it("sends days as instants of the workspace's midnights, the last day included", () => {
    const query = runsQuery({ ...NO_FILTERS, createdFrom: "2026-03-01", createdTo: "2026-03-31" }, "Asia/Tokyo");
    expect(query.created_after).toBe("2026-02-28T15:00:00.000Z");
    expect(query.created_before).toBe("2026-03-31T15:00:00.000Z"); // April 1st in Tokyo: the month rolls over
  });

  it("reads days in the browser's zone until the workspace's is known", () => {
    const query = runsQuery({ ...NO_FILTERS, createdFrom: "2026-03-01" }, undefined);
    expect(query.created_after).toBe(new Date(2026, 2, 1).toISOString());
  });
});

describe("runsQuery's search", () => {
  it("sends the value trimmed, and the field only with a value", () => {
    expect(runsQuery({ ...NO_FILTERS, search: " ada@example.com ", searchField: "email" }, undefined)).toEqual({ search: "ada@example.com", search_field: "email" });
    expect(runsQuery({ ...NO_FILTERS, search: "+4915112345" }, undefined)).toEqual({ search: "+4915112345" });
    expect(runsQuery({ ...NO_FILTERS, search: "  ", searchField: "email" }, undefined)).toEqual({});
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
