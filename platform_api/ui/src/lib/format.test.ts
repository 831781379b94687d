import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { duration, humanize, pretty, timeAgo } from "./format";

describe("humanize", () => {
  it("turns a field name into a label, acronyms in capitals", () => {
    expect(humanize("json_body")).toBe("JSON body");
    expect(humanize("from_email")).toBe("From email");
    expect(humanize("api_key")).toBe("API key");
    expect(humanize("account_sid")).toBe("Account sid");
  });
});

describe("duration", () => {
  it("reads in the unit that suits it", () => {
    const start = "2026-01-01T10:00:00.000Z";
    expect(duration(start, "2026-01-01T10:00:00.250Z")).toBe("250 ms");
    expect(duration(start, "2026-01-01T10:00:04.560Z")).toBe("4.6 s");
    expect(duration(start, "2026-01-01T10:02:05.000Z")).toBe("2 min 5 s");
  });

  it("shows a dash for a step that has not started", () => {
    expect(duration(null, null)).toBe("—");
  });
});

describe("timeAgo", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2026-03-10T12:00:00Z"));
  });
  afterEach(() => vi.useRealTimers());

  it("says how long ago, then the date", () => {
    expect(timeAgo("2026-03-10T11:59:30Z")).toBe("just now");
    expect(timeAgo("2026-03-10T11:55:00Z")).toBe("5 min ago");
    expect(timeAgo("2026-03-10T09:00:00Z")).toBe("3 h ago");
    expect(timeAgo("2026-01-02T12:00:00Z")).toMatch(/2026/);
    expect(timeAgo(null)).toBe("—");
  });
});

describe("pretty", () => {
  it("indents JSON and shows nothing for no value", () => {
    expect(pretty({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(pretty(undefined)).toBe("");
  });
});
