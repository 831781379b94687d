// Instants shown in the workspace's time zone (Settings → Workspace), not the browser's: a run that started at
// 09:00 in Tokyo reads 09:00 for everyone in the workspace. One module formats every date and time the UI shows;
// components read the zone with useDates() (the app provides it from GET /api/v1/tenant).
import { createContext, useContext, useMemo } from "react";

/** An IANA zone ("Asia/Tokyo"); undefined: the browser's own (before the workspace is read). */
export type Zone = string | undefined;

const cache = new Map<string, Intl.DateTimeFormat>();

/** A cached formatter; an unknown zone falls back to the browser's own rather than throwing. */
function formatter(options: Intl.DateTimeFormatOptions, zone: Zone, locale?: string): Intl.DateTimeFormat {
  const key = JSON.stringify([options, zone ?? null, locale ?? null]);
  let found = cache.get(key);
  if (!found) {
    try {
      found = new Intl.DateTimeFormat(locale, { ...options, timeZone: zone });
    } catch {
      found = new Intl.DateTimeFormat(locale, options);
    }
    cache.set(key, found);
  }
  return found;
}

const DATE: Intl.DateTimeFormatOptions = { year: "numeric", month: "short", day: "numeric" };
const TIME: Intl.DateTimeFormatOptions = { hour: "2-digit", minute: "2-digit", second: "2-digit" };

const instant = (iso: string | Date): Date => (typeof iso === "string" ? new Date(iso) : iso);

/** "Mar 10, 2026, 09:00:00 PM GMT+9": date, time and the zone's abbreviation. "—" for no instant. */
export function formatDateTime(iso: string | Date | null | undefined, zone: Zone, locale?: string): string {
  if (!iso) return "—";
  return formatter({ ...DATE, ...TIME, timeZoneName: "short" }, zone, locale).format(instant(iso));
}

/** "Mar 10, 2026": the day in the zone. */
export function formatDate(iso: string | Date | null | undefined, zone: Zone, locale?: string): string {
  if (!iso) return "—";
  return formatter(DATE, zone, locale).format(instant(iso));
}

/** "21:00:05": a time of day on a 24-hour clock in the zone (log lines, timelines, ETAs). */
export function formatClock(iso: string | Date, zone: Zone, locale = "en-GB"): string {
  return formatter({ ...TIME, hourCycle: "h23" }, zone, locale).format(instant(iso));
}

/** The zone's short name at an instant: "GMT+9", "CET" or "CEST" (it changes with daylight saving). */
export function zoneAbbreviation(zone: Zone, at: string | Date = new Date(), locale?: string): string {
  const parts = formatter({ timeZoneName: "short" }, zone, locale).formatToParts(instant(at));
  return parts.find((p) => p.type === "timeZoneName")?.value ?? "";
}

/** "just now", "5 min ago", "3 h ago", then the day in the zone. */
export function formatAgo(iso: string | null | undefined, zone: Zone, now = Date.now(), locale?: string): string {
  if (!iso) return "—";
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return formatDate(iso, zone, locale);
}

const WALL_CLOCK: Intl.DateTimeFormatOptions = {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
};

/** The zone's wall clock at an instant, read as if it were UTC (milliseconds). */
function wallClock(at: number, zone: Zone): number {
  const part = Object.fromEntries(formatter(WALL_CLOCK, zone, "en-US").formatToParts(at).map((p) => [p.type, Number(p.value)]));
  return Date.UTC(part.year, part.month - 1, part.day, part.hour, part.minute, part.second);
}

/** The instant (ISO) a wall-clock time typed in the zone stands for: "2026-03-10T09:00" (a datetime-local input's
 *  value) or a day "2026-03-10" (its midnight), `days` later. A time a daylight-saving change skips gives an instant
 *  next to the gap. */
export function zonedToInstant(local: string, zone: Zone, days = 0): string {
  const [day, time = "00:00"] = local.split("T");
  const [year, month, date] = day.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const asUtc = Date.UTC(year, month - 1, date + days, hour, minute);
  let at = asUtc - (wallClock(asUtc, zone) - asUtc);
  at = asUtc - (wallClock(at, zone) - at); // once more: the offset at the instant itself, across a change
  return new Date(at).toISOString();
}

/** An instant as a datetime-local input shows it in the zone: "2026-03-10T09:00". */
export function instantToZoned(iso: string, zone: Zone): string {
  return new Date(wallClock(new Date(iso).getTime(), zone)).toISOString().slice(0, 16);
}

export type Dates = {
  zone: Zone;
  dateTime: (iso: string | null | undefined) => string;
  date: (iso: string | null | undefined) => string;
  clock: (iso: string) => string;
  ago: (iso: string | null | undefined) => string;
};

export function datesIn(zone: Zone): Dates {
  return {
    zone,
    dateTime: (iso) => formatDateTime(iso, zone),
    date: (iso) => formatDate(iso, zone),
    clock: (iso) => formatClock(iso, zone),
    ago: (iso) => formatAgo(iso, zone),
  };
}

/** The workspace's zone, provided once by the app shell. */
export const TimeZoneContext = createContext<Zone>(undefined);

/** Formatters bound to the workspace's time zone. */
export function useDates(): Dates {
  const zone = useContext(TimeZoneContext);
  return useMemo(() => datesIn(zone), [zone]);
}
