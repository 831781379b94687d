import { describe, expect, it } from "vitest";
import { datesIn, formatAgo, formatClock, formatDate, formatDateTime, instantToZoned, zoneAbbreviation, zonedToInstant } from "./dates";

const NOON_UTC = "2026-03-10T12:00:00Z";

describe("formatDateTime", () => {
  it("shows the instant in the workspace's zone, with the zone's name", () => {
    expect(formatDateTime(NOON_UTC, "Asia/Tokyo", "en-GB")).toBe("10 Mar 2026, 21:00:00 GMT+9");
    expect(formatDateTime(NOON_UTC, "UTC", "en-GB")).toBe("10 Mar 2026, 12:00:00 UTC");
    expect(formatDateTime(NOON_UTC, "America/New_York", "en-US")).toBe("Mar 10, 2026, 08:00:00 AM EDT");
  });

  it("moves to the next day where the zone is past midnight", () => {
    expect(formatDate("2026-03-10T20:00:00Z", "Asia/Tokyo", "en-GB")).toBe("11 Mar 2026");
    expect(formatDate("2026-03-10T20:00:00Z", "UTC", "en-GB")).toBe("10 Mar 2026");
  });

  it("shows a dash for no instant and falls back to the browser's zone for an unknown one", () => {
    expect(formatDateTime(null, "Asia/Tokyo")).toBe("—");
    expect(formatDateTime(NOON_UTC, "Not/AZone", "en-GB")).toMatch(/^10 Mar 2026/);
  });
});

describe("zoneAbbreviation", () => {
  it("follows daylight saving", () => {
    expect(zoneAbbreviation("Europe/Berlin", "2026-01-15T12:00:00Z", "en-GB")).toBe("CET");
    expect(zoneAbbreviation("Europe/Berlin", "2026-07-15T12:00:00Z", "en-GB")).toBe("CEST");
    expect(zoneAbbreviation("Asia/Tokyo", NOON_UTC, "en-US")).toBe("GMT+9");
  });
});

describe("formatClock and formatAgo", () => {
  it("reads a time of day on a 24-hour clock in the zone", () => {
    expect(formatClock("2026-03-10T15:04:05Z", "Asia/Tokyo")).toBe("00:04:05");
    expect(formatClock("2026-03-10T15:04:05Z", "Europe/London")).toBe("15:04:05");
  });

  it("says how long ago, then the day in the zone", () => {
    const now = new Date(NOON_UTC).getTime();
    expect(formatAgo("2026-03-10T11:59:30Z", "Asia/Tokyo", now)).toBe("just now");
    expect(formatAgo("2026-03-10T11:55:00Z", "Asia/Tokyo", now)).toBe("5 min ago");
    expect(formatAgo("2026-03-08T20:00:00Z", "Asia/Tokyo", now, "en-GB")).toBe("9 Mar 2026");
    expect(formatAgo("2026-03-08T20:00:00Z", "America/Los_Angeles", now, "en-GB")).toBe("8 Mar 2026");
  });

  it("binds every formatter to one zone", () => {
    const tokyo = datesIn("Asia/Tokyo");
    expect(tokyo.clock(NOON_UTC)).toBe("21:00:00");
    expect(tokyo.dateTime(NOON_UTC)).toContain("GMT+9");
  });
});

describe("zonedToInstant and instantToZoned", () => {
  it("reads a typed time or day in the workspace's zone, not the browser's", () => {
    expect(zonedToInstant("2026-03-10T21:00", "Asia/Tokyo")).toBe("2026-03-10T12:00:00.000Z");
    expect(zonedToInstant("2026-03-10", "America/New_York")).toBe("2026-03-10T04:00:00.000Z"); // EDT, since Mar 8
    expect(zonedToInstant("2026-03-01", "America/New_York")).toBe("2026-03-01T05:00:00.000Z"); // EST
    expect(zonedToInstant("2026-03-10", "UTC", 1)).toBe("2026-03-11T00:00:00.000Z");
    expect(zonedToInstant("2026-03-31", "Asia/Tokyo", 1)).toBe("2026-03-31T15:00:00.000Z");
  });

  it("shows an instant as a datetime-local value in the zone, and reads it back to the same instant", () => {
    expect(instantToZoned(NOON_UTC, "Asia/Tokyo")).toBe("2026-03-10T21:00");
    expect(instantToZoned(NOON_UTC, "America/New_York")).toBe("2026-03-10T08:00");
    expect(zonedToInstant(instantToZoned(NOON_UTC, "Europe/Berlin"), "Europe/Berlin")).toBe("2026-03-10T12:00:00.000Z");
  });

  it("gives a time that exists for one skipped by daylight saving", () => {
    const at = zonedToInstant("2026-03-08T02:30", "America/New_York"); // 02:00-03:00 does not exist that day
    expect(["2026-03-08T06:30:00.000Z", "2026-03-08T07:30:00.000Z"]).toContain(at);
  });
});
