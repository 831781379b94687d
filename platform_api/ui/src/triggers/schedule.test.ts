import { describe, expect, it } from "vitest";
import { builderOf, DEFAULT_BUILDER, describe as say, dstNotes, offsetOf, specOf, type Fire } from "./schedule";

describe("the cron builder", () => {
  it("makes cron expressions and intervals from plain choices", () => {
    expect(specOf({ ...DEFAULT_BUILDER, repeat: "weekdays", time: "09:30" })).toEqual({ cron: "30 9 * * 1-5" });
    expect(specOf({ ...DEFAULT_BUILDER, repeat: "monthly", day: 1, time: "08:05", timezone: "Europe/Berlin" }))
      .toEqual({ cron: "5 8 1 * *", timezone: "Europe/Berlin" });
    expect(specOf({ ...DEFAULT_BUILDER, repeat: "interval", every: 15 })).toEqual({ interval_minutes: 15 });
    expect(specOf({ ...DEFAULT_BUILDER, repeat: "hourly", minute: 45 })).toEqual({ cron: "45 * * * *" });
  });

  it("reads a stored spec back into choices, and any other cron as custom", () => {
    expect(builderOf({ cron: "30 9 * * 1-5" })).toMatchObject({ repeat: "weekdays", time: "09:30" });
    expect(builderOf({ cron: "0 18 * * 5", timezone: "America/New_York" })).toMatchObject({ repeat: "weekly", weekday: 5, time: "18:00", timezone: "America/New_York" });
    expect(builderOf({ interval_minutes: 5 })).toMatchObject({ repeat: "interval", every: 5 });
    expect(builderOf({ cron: "*/10 9-17 * * *" })).toMatchObject({ repeat: "custom", cron: "*/10 9-17 * * *" });
    for (const cron of ["30 9 * * 1-5", "0 18 * * 5", "5 8 1 * *", "45 * * * *", "0 9 * * *"]) {
      expect(specOf(builderOf({ cron }))).toEqual({ cron });
    }
  });

  it("says it in words", () => {
    expect(say({ cron: "30 9 * * 1-5", timezone: "Europe/Berlin" }, "UTC")).toBe("Every weekday at 09:30 (Europe/Berlin)");
    expect(say({ interval_minutes: 15 }, "UTC")).toBe("Every 15 minutes (UTC, the workspace's time zone)");
  });
});

describe("daylight-saving notes", () => {
  const fire = (local: string, utc: string): Fire => ({ local, utc, time_zone: "Europe/Berlin", schedule: "0 9 1 * *" });

  it("notes the fire time after the clocks change, forward and back", () => {
    const notes = dstNotes([
      fire("2027-03-01T09:00:00+01:00", "2027-03-01T08:00:00+00:00"),
      fire("2027-04-01T09:00:00+02:00", "2027-04-01T07:00:00+00:00"),
      fire("2027-05-01T09:00:00+02:00", "2027-05-01T07:00:00+00:00"),
      fire("2027-11-01T09:00:00+01:00", "2027-11-01T08:00:00+00:00"),
    ]);
    expect(notes[0]).toBeNull();
    expect(notes[1]).toContain("Clocks go forward");
    expect(notes[1]).toContain("UTC+01:00 → UTC+02:00");
    expect(notes[2]).toBeNull();
    expect(notes[3]).toContain("Clocks go back");
  });

  it("reads the offset of an ISO time", () => {
    expect(offsetOf("2027-03-01T09:00:00-05:00")).toBe("-05:00");
    expect(offsetOf("2027-03-01T09:00:00Z")).toBe("+00:00");
  });
});
