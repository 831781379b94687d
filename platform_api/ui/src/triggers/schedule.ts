// The schedule panel's model: a cron expression or an interval built from plain choices, and the daylight-saving
// notes on a preview's fire times (flow_factory/nodes/trigger_schedule.py states the policy Prefect applies).

export type Repeat = "interval" | "hourly" | "daily" | "weekdays" | "weekly" | "monthly" | "custom";

export type Builder = {
  repeat: Repeat;
  /** interval: every N minutes. */
  every: number;
  /** hourly: at this minute past the hour. */
  minute: number;
  /** daily, weekdays, weekly, monthly: "HH:MM". */
  time: string;
  /** weekly: 0 (Sunday) to 6. */
  weekday: number;
  /** monthly: 1 to 28. */
  day: number;
  /** custom: five fields. */
  cron: string;
  /** "" for the workspace's time zone. */
  timezone: string;
};

export type ScheduleSpec = { cron?: string | null; interval_minutes?: number | null; timezone?: string | null };

export const REPEATS: { value: Repeat; label: string }[] = [
  { value: "interval", label: "Every few minutes" },
  { value: "hourly", label: "Every hour" },
  { value: "daily", label: "Every day" },
  { value: "weekdays", label: "Every weekday (Monday to Friday)" },
  { value: "weekly", label: "Every week" },
  { value: "monthly", label: "Every month" },
  { value: "custom", label: "Custom cron expression" },
];

export const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export const DEFAULT_BUILDER: Builder = {
  repeat: "daily", every: 15, minute: 0, time: "09:00", weekday: 1, day: 1, cron: "0 9 * * *", timezone: "",
};

const clock = (time: string): [number, number] => {
  const [hours, minutes] = time.split(":").map((part) => Number.parseInt(part, 10));
  return [Number.isFinite(hours) ? hours : 0, Number.isFinite(minutes) ? minutes : 0];
};

/** The spec the builder's choices make (what trigger.schedule stores). */
export function specOf(builder: Builder): ScheduleSpec {
  const zone = builder.timezone ? { timezone: builder.timezone } : {};
  const [hours, minutes] = clock(builder.time);
  const at = `${minutes} ${hours}`;
  switch (builder.repeat) {
    case "interval": return { interval_minutes: Math.max(1, Math.round(builder.every)), ...zone };
    case "hourly": return { cron: `${builder.minute} * * * *`, ...zone };
    case "daily": return { cron: `${at} * * *`, ...zone };
    case "weekdays": return { cron: `${at} * * 1-5`, ...zone };
    case "weekly": return { cron: `${at} * * ${builder.weekday}`, ...zone };
    case "monthly": return { cron: `${at} ${builder.day} * *`, ...zone };
    case "custom": return { cron: builder.cron.trim().replace(/\s+/g, " "), ...zone };
  }
}

const pad = (n: number) => String(n).padStart(2, "0");
const isNumber = (field: string) => /^\d+$/.test(field);

/** The builder's choices for a stored spec: a cron it cannot show as a choice is "custom". */
export function builderOf(spec: ScheduleSpec | undefined): Builder {
  const base = { ...DEFAULT_BUILDER, timezone: spec?.timezone ?? "" };
  if (!spec) return base;
  if (spec.interval_minutes) return { ...base, repeat: "interval", every: spec.interval_minutes };
  const cron = (spec.cron ?? "").trim().replace(/\s+/g, " ");
  const fields = cron.split(" ");
  if (fields.length !== 5) return { ...base, repeat: "custom", cron };
  const [minute, hour, day, month, weekday] = fields;
  if (!isNumber(minute) || month !== "*") return { ...base, repeat: "custom", cron };
  if (hour === "*" && day === "*" && weekday === "*") return { ...base, repeat: "hourly", minute: Number(minute), cron };
  if (!isNumber(hour)) return { ...base, repeat: "custom", cron };
  const time = `${pad(Number(hour))}:${pad(Number(minute))}`;
  if (day === "*" && weekday === "*") return { ...base, repeat: "daily", time, cron };
  if (day === "*" && weekday === "1-5") return { ...base, repeat: "weekdays", time, cron };
  if (day === "*" && /^[0-6]$/.test(weekday)) return { ...base, repeat: "weekly", time, weekday: Number(weekday), cron };
  if (isNumber(day) && Number(day) <= 28 && weekday === "*") return { ...base, repeat: "monthly", time, day: Number(day), cron };
  return { ...base, repeat: "custom", cron };
}

/** In words, for the panel: "Every weekday at 09:30 (Europe/Berlin)". */
export function describe(spec: ScheduleSpec, workspaceZone: string): string {
  const zone = spec.timezone || `${workspaceZone}, the workspace's time zone`;
  if (spec.interval_minutes) return `Every ${spec.interval_minutes} minutes (${zone})`;
  const builder = builderOf(spec);
  const time = builder.time;
  const text = {
    interval: "", custom: `Cron ${spec.cron}`,
    hourly: `Every hour at ${pad(builder.minute)} minutes past`,
    daily: `Every day at ${time}`,
    weekdays: `Every weekday at ${time}`,
    weekly: `Every ${WEEKDAYS[builder.weekday]} at ${time}`,
    monthly: `On day ${builder.day} of every month at ${time}`,
  }[builder.repeat];
  return `${text} (${zone})`;
}

export type Fire = { local: string; utc: string; time_zone: string; schedule: string };

/** "+02:00" from an ISO time with an offset ("Z" is "+00:00"). */
export function offsetOf(iso: string): string {
  const match = /([+-]\d\d:\d\d|Z)$/.exec(iso);
  return !match || match[1] === "Z" ? "+00:00" : match[1];
}

/** For each fire time, a note when the clocks changed since the one before it in the same time zone. */
export function dstNotes(fires: Fire[]): (string | null)[] {
  const lastOffset = new Map<string, string>();
  return fires.map((fire) => {
    const offset = offsetOf(fire.local);
    const before = lastOffset.get(fire.time_zone);
    lastOffset.set(fire.time_zone, offset);
    if (before === undefined || before === offset) return null;
    const minutes = (text: string) => (text.startsWith("-") ? -1 : 1) * (Number(text.slice(1, 3)) * 60 + Number(text.slice(4, 6)));
    const forward = minutes(offset) > minutes(before);
    return `Clocks go ${forward ? "forward" : "back"} before this run in ${fire.time_zone} (UTC${before} → UTC${offset}): `
      + `same local time, ${forward ? "one hour earlier" : "one hour later"} in UTC.`;
  });
}

/** "Mon 1 Mar 2027, 09:00" in the fire's own time zone. */
export function localTime(fire: Fire): string {
  try {
    return new Intl.DateTimeFormat(undefined, {
      weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
      timeZone: fire.time_zone,
    }).format(new Date(fire.utc));
  } catch {
    return fire.local;
  }
}

/** Every IANA time zone the browser knows (empty where it cannot list them). */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf?.("timeZone") ?? [];
  } catch {
    return [];
  }
}
