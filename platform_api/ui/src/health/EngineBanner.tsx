// A banner over every screen while the platform cannot run workflows (the engine, the database or the API is down
// for two checks in a row, about 15 s).
import { useQuery } from "@tanstack/react-query";
import { lastingFailures, outageOf } from "./engine";

const CHECK_MS = 15_000;

export function EngineBanner() {
  const { data: failing = [] } = useQuery({
    queryKey: ["readiness"],
    queryFn: lastingFailures,
    refetchInterval: CHECK_MS,
    retry: false,
  });
  const outage = outageOf(failing);
  if (!outage) return null;
  return (
    <div className="callout callout-warn engine-banner" aria-live="polite" data-testid="engine-banner">
      <strong>{outage.title}.</strong> {outage.detail}
    </div>
  );
}
