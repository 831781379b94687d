import { formatAgo, formatDateTime } from "./dates";

/** "5 min ago", then the day, in the browser's zone: components use useDates() for the workspace's zone. */
export function timeAgo(iso: string | null | undefined): string {
  return formatAgo(iso, undefined);
}

export function duration(start: string | null | undefined, end: string | null | undefined): string {
  if (!start) return "—";
  const ms = (end ? new Date(end).getTime() : Date.now()) - new Date(start).getTime();
  if (ms < 1000) return `${Math.max(ms, 0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** In the browser's zone: components use useDates() for the workspace's zone. */
export function dateTime(iso: string | null | undefined): string {
  return formatDateTime(iso, undefined);
}

export function pretty(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

const ACRONYMS: Record<string, string> = { url: "URL", json: "JSON", http: "HTTP", id: "ID", api: "API" };

/** "json_body" -> "JSON body". */
export function humanize(key: string): string {
  const words = key.split("_").map((w) => ACRONYMS[w.toLowerCase()] ?? w.toLowerCase());
  const first = words[0] ?? "";
  words[0] = first === first.toUpperCase() ? first : first.charAt(0).toUpperCase() + first.slice(1);
  return words.join(" ");
}
