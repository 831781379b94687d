import { describe, expect, it } from "vitest";
import { chartPoints, csvName, ms, outcomeTiles, percent, reportWindow, totalTiles, type Report } from "./api";

const point = (start: string, counts: Partial<Report["series"][number]> = {}) => ({
  start, runs: 0, completed: 0, failed: 0, cancelled: 0, success_rate: null, p50_ms: null, p95_ms: null, ...counts,
});

describe("percent and ms", () => {
  it("shows rates with at most one decimal, and none without runs", () => {
    expect(percent(0.756)).toBe("75.6%");
    expect(percent(1)).toBe("100%");
    expect(percent(2 / 3)).toBe("66.7%");
    expect(percent(null)).toBe("—");
  });

  it("shows durations in the unit that reads best", () => {
    expect(ms(850)).toBe("850 ms");
    expect(ms(1234)).toBe("1.2 s");
    expect(ms(150_000)).toBe("2.5 min");
    expect(ms(4_000_000)).toBe("1.1 h");
    expect(ms(null)).toBe("—");
  });
});

describe("tiles", () => {
  it("lists totals and outcomes, missing outcomes as 0", () => {
    const totals = { runs: 4, completed: 3, failed: 1, cancelled: 0, success_rate: 0.75, p50_ms: 1200, p95_ms: 2400 };
    expect(totalTiles(totals).map((t) => t.value)).toEqual(["4", "75%", "1.2 s", "2.4 s"]);
    expect(outcomeTiles({ emails_sent: 2, http_calls: 5 }).map((t) => `${t.label}: ${t.value}`))
      .toEqual(["Emails sent: 2", "SMS sent: 0", "Posts: 0", "CRM writes: 0", "HTTP calls: 5"]);
  });
});

describe("chartPoints", () => {
  it("keeps every bucket, empty ones with zeros and no rate, rates in percent", () => {
    const report = {
      bucket: "day" as const,
      series: [
        point("2026-03-01T00:00:00+00:00", { runs: 4, completed: 3, failed: 1, success_rate: 0.75, p50_ms: 100, p95_ms: 900 }),
        point("2026-03-02T00:00:00+00:00"),
      ],
    };
    expect(chartPoints(report, "UTC")).toEqual([
      { label: "1 Mar", start: report.series[0].start, completed: 3, failed: 1, cancelled: 0, success: 75, p50: 100, p95: 900 },
      { label: "2 Mar", start: report.series[1].start, completed: 0, failed: 0, cancelled: 0, success: null, p50: null, p95: null },
    ]);
  });

  it("labels hours by the time, with the day when the series spans days", () => {
    const hours = (n: number) => Array.from({ length: n }, (_, i) => point(new Date(Date.UTC(2026, 2, 1, i)).toISOString()));
    expect(chartPoints({ bucket: "hour", series: hours(3) }, "UTC").map((p) => p.label)).toEqual(["00:00", "01:00", "02:00"]);
    expect(chartPoints({ bucket: "hour", series: hours(25) }, "UTC")[24].label).toBe("2 Mar, 00:00");
  });
});

describe("reportWindow and csvName", () => {
  it("ends now and starts the range's length before, with zones", () => {
    const now = new Date("2026-03-08T12:00:00Z");
    expect(reportWindow("7d", "day", now)).toEqual({ from: "2026-03-01T12:00:00.000Z", to: "2026-03-08T12:00:00.000Z", bucket: "day" });
    expect(reportWindow("24h", "hour", now).from).toBe("2026-03-07T12:00:00.000Z");
  });

  it("names the download after the workflow, range and bucket", () => {
    expect(csvName("Welcome new leads!", "7d", "day")).toBe("flowyard-welcome-new-leads-7d-by-day.csv");
    expect(csvName(null, "24h", "hour")).toBe("flowyard-workspace-24h-by-hour.csv");
  });
});
