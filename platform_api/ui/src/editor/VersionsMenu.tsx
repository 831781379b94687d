// Who saved which version, when and why; opening one loads it onto the canvas as unsaved changes, comparing shows
// what changed between two, restoring one saves its graph as a new version and publishes it (a rollback).
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { createPortal } from "react-dom";
import { ApiError } from "../api/client";
import { useRestoreVersion, useVersions, useWorkflow, versionQuery, workflowQuery } from "../api/queries";
import type { Graph, VersionInfo, Workflow } from "../api/types";
import { Modal } from "../components/Modal";
import { useToast } from "../components/Toasts";
import { useDates } from "../lib/dates";
import { pendingText } from "../publish/api";
import { usePublishesDirectly } from "../publish/usePublishRule";
import { ProblemNote } from "../settings/ProblemNote";
import { useMe } from "../settings/queries";
import { showSecret } from "../triggers/api";
import { VersionDiffDialog } from "./VersionDiff";
import { comparePair } from "./versionDiff";

const NOT_ALLOWED = "Only an editor or above can restore versions.";

type RestoreProps = {
  workflowId: string;
  version: number;
  latest: number;
  dirty: boolean;
  onDone: (workflow: Workflow) => Promise<unknown>;
  onClose: () => void;
};

/** Confirming a rollback, with an optional note kept with the new version. */
function RestoreDialog({ workflowId, version, latest, dirty, onDone, onClose }: RestoreProps) {
  const [message, setMessage] = useState("");
  const [draft, setDraft] = useState<number | null>(null); // saved as this version, but its publish failed
  const [next] = useState(latest + 1); // as it was when asked: the editor reloads once a version is restored
  const restore = useRestoreVersion(workflowId);
  const client = useQueryClient();
  const toast = useToast();
  const direct = usePublishesDirectly(useWorkflow(workflowId).data ?? {});
  const confirm = () => restore.mutate({ version, message: message.trim() || undefined, publish: true }, {
    onSuccess: async ({ published, pending }) => {
      if (pending) { // saved as the newest version; going live waits for an owner's or admin's approval
        const fresh = await client.fetchQuery({ ...workflowQuery(workflowId), staleTime: 0 }).catch(() => null);
        if (fresh) await onDone(fresh);
        onClose();
        toast(pendingText(pending.version), "success", `Version ${version} was restored as version ${pending.version}; the live version stays until then.`);
        return;
      }
      await onDone(published);
      onClose();
      if (published.webhook_secret) showSecret(workflowId, { secret: published.webhook_secret, why: "published" }); // a first publish
      toast(`Version ${version} restored as version ${published.version} and published`, "success");
    },
    onError: async (error) => {
      if (error instanceof ApiError && error.status === 0) return; // nothing reached the server
      const fresh = await client.fetchQuery({ ...workflowQuery(workflowId), staleTime: 0 }).catch(() => null);
      if (fresh && fresh.version > latest) { // a failed publish keeps the restored version as a draft
        setDraft(fresh.version);
        await onDone(fresh);
      }
    },
  });
  return (
    <Modal title={`Restore version ${version}`} onClose={onClose} footer={
      <>
        <button className="btn btn-ghost" onClick={onClose}>{draft ? "Close" : "Cancel"}</button>
        {!draft && (
          <button className="btn btn-primary" onClick={confirm} disabled={restore.isPending}>
            {restore.isPending ? "Restoring…" : direct ? "Restore and publish" : "Restore and request publish"}
          </button>
        )}
      </>
    }>
      <p>Restore version {version} as a new version and publish it?</p>
      <p className="muted small">
        Its steps become version {next} and {direct ? "go live at once" : "go live once an owner or admin approves them"}.
        Nothing is deleted: the versions in between stay in the history.
      </p>
      {dirty && <div className="callout callout-warn">Your unsaved changes on the canvas will be replaced by the restored version.</div>}
      <label htmlFor="restore-message">Message (optional)</label>
      <input id="restore-message" value={message} onChange={(e) => setMessage(e.target.value)} maxLength={500}
        placeholder={`Restored from version ${version}`} disabled={restore.isPending || !!draft} />
      <ProblemNote error={restore.error} />
      {draft && (
        <div className="callout callout-warn" role="status">
          It was saved as version {draft}, but not published: the live version is unchanged.
        </div>
      )}
    </Modal>
  );
}

type Props = {
  workflowId: string;
  current: number;
  published: number | null;
  dirty: boolean;
  onOpen: (graph: Graph, version: number) => void;
  /** The workflow changed on the server (a version restored): the editor reloads it. */
  onRestored: (workflow: Workflow) => Promise<unknown>;
};

export function VersionsMenu({ workflowId, current, published, dirty, onOpen, onRestored }: Props) {
  const { dateTime, ago: timeAgo } = useDates();
  const { data, error } = useVersions(workflowId);
  const versions = useMemo(() => data && [...data].sort((a, b) => b.version - a.version), [data]);
  const problem = error?.message;
  const client = useQueryClient();
  const me = useMe().data;
  const refused = me && !me.permissions.includes("publish") ? NOT_ALLOWED : undefined;
  const [compare, setCompare] = useState<{ from: number; to: number } | null>(null);
  const [restoring, setRestoring] = useState<number | null>(null);
  const open = async (version: number) => onOpen((await client.fetchQuery(versionQuery(workflowId, version))).graph, version);
  const isLive = (v: VersionInfo) => v.published || v.version === published;
  const live = versions?.find(isLive)?.version ?? published;
  const latest = Math.max(current, versions?.[0]?.version ?? 0);
  return (
    <div className="popover versions" role="dialog" aria-label="Versions">
      <h3>Versions</h3>
      {problem && <p className="field-error">{problem}</p>}
      {!versions && !problem && <p className="muted">Loading…</p>}
      <ol>
        {versions?.map((v) => {
          const pair = comparePair(v.version, versions, live);
          return (
            <li key={v.version} data-version={v.version}>
              <div className="version-main">
                <strong>Version {v.version}</strong>
                {v.version === current && <span className="tag">current</span>}
                {isLive(v) && <span className="tag tag-live">live</span>}
                {!v.valid && <span className="tag tag-warn">has problems</span>}
                {v.message && <div className="version-message" title={v.message}>{v.message}</div>}
                <div className="muted small" title={dateTime(v.created_at)}>
                  {v.created_by ?? "someone"} · {timeAgo(v.created_at)}
                </div>
              </div>
              <div className="version-actions">
                {v.version !== current && <button className="btn btn-ghost btn-xs" onClick={() => open(v.version)}>Open</button>}
                {pair && (
                  <button className="btn btn-ghost btn-xs" onClick={() => setCompare(pair)}
                    title={`Compare version ${pair.from} with version ${pair.to}`}>Compare</button>
                )}
                {!isLive(v) && (
                  <button className="btn btn-ghost btn-xs" onClick={() => setRestoring(v.version)} disabled={!!refused}
                    title={refused ?? `Save version ${v.version} as a new version and publish it`}>Restore</button>
                )}
              </div>
            </li>
          );
        })}
      </ol>
      {compare && versions && createPortal(
        <VersionDiffDialog workflowId={workflowId} versions={versions} from={compare.from} to={compare.to} onClose={() => setCompare(null)} />,
        document.body,
      )}
      {restoring !== null && createPortal(
        <RestoreDialog workflowId={workflowId} version={restoring} latest={latest} dirty={dirty}
          onDone={onRestored} onClose={() => setRestoring(null)} />,
        document.body,
      )}
    </div>
  );
}
