// Whether the platform can run workflows now, from the readiness check (GET /api/v1/health/ready), in words a
// user acts on. Readiness names each failing check in `errors[].path`: database, prefect, dispatcher.
import { http } from "../api/client";

export type Outage = { title: string; detail: string };

/** What to tell the user about these failing checks; null when nothing they would notice is down. */
export function outageOf(failing: string[]): Outage | null {
  if (failing.includes("network")) {
    return { title: "Flowyard cannot be reached", detail: "Check your connection; this page tries again by itself." };
  }
  if (failing.includes("database")) {
    return { title: "Flowyard's database is unavailable", detail: "Nothing can be saved right now. Try again in a minute." };
  }
  if (failing.includes("prefect") || failing.includes("dispatcher")) {
    return {
      title: "The workflow engine is unavailable",
      detail: "New runs are accepted and start as soon as it is back; runs in progress carry on then.",
    };
  }
  return null;
}

/** The failing checks: none when ready, "network" when the API does not answer at all. */
export async function failingChecks(): Promise<string[]> {
  try {
    const { response, error } = await http.GET("/api/v1/health/ready");
    if (response.ok) return [];
    const errors = (error as { errors?: { path?: string }[] } | undefined)?.errors ?? [];
    return errors.map((e) => e.path ?? "").filter(Boolean);
  } catch {
    return ["network"];
  }
}

let lastFailing: string[] = [];

/** The checks that failed this time and the time before: one slow answer of a busy server is not an outage. */
export async function lastingFailures(): Promise<string[]> {
  const failing = await failingChecks();
  const lasting = failing.filter((check) => lastFailing.includes(check));
  lastFailing = failing;
  return lasting;
}
