// Provides the workspace's time zone (Settings → Workspace) to every date the UI shows (lib/dates.ts).
import type { ReactNode } from "react";
import { TimeZoneContext } from "../lib/dates";
import { useWorkspace } from "../settings/queries";

export function WorkspaceTimeZone({ children }: { children: ReactNode }) {
  const zone = useWorkspace().data?.time_zone;
  return <TimeZoneContext.Provider value={zone}>{children}</TimeZoneContext.Provider>;
}
