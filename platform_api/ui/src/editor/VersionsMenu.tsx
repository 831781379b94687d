// Who saved which version, and when; opening one loads it onto the canvas as unsaved changes.
import { useQueryClient } from "@tanstack/react-query";
import { useMemo } from "react";
import { useVersions, versionQuery } from "../api/queries";
import type { Graph } from "../api/types";
import { dateTime, timeAgo } from "../lib/format";

type Props = { workflowId: string; current: number; published: number | null; onOpen: (graph: Graph, version: number) => void };

export function VersionsMenu({ workflowId, current, published, onOpen }: Props) {
  const { data, error } = useVersions(workflowId);
  const versions = useMemo(() => data && [...data].sort((a, b) => b.version - a.version), [data]);
  const problem = error?.message;
  const client = useQueryClient();
  const open = async (version: number) => onOpen((await client.fetchQuery(versionQuery(workflowId, version))).graph, version);
  return (
    <div className="popover versions" role="dialog" aria-label="Versions">
      <h3>Versions</h3>
      {problem && <p className="field-error">{problem}</p>}
      {!versions && !problem && <p className="muted">Loading…</p>}
      <ol>
        {versions?.map((v) => (
          <li key={v.version} data-version={v.version}>
            <div>
              <strong>Version {v.version}</strong>
              {v.version === current && <span className="tag">current</span>}
              {v.version === published && <span className="tag tag-live">live</span>}
              {!v.valid && <span className="tag tag-warn">has problems</span>}
              <div className="muted small" title={dateTime(v.created_at)}>
                {v.created_by ?? "someone"} · {timeAgo(v.created_at)}
              </div>
            </div>
            {v.version !== current && <button className="btn btn-ghost btn-xs" onClick={() => open(v.version)}>Open</button>}
          </li>
        ))}
      </ol>
    </div>
  );
}
