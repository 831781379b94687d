// Upgrading a workflow made from a template to the template's latest version: the three-way merge the API
// makes (what the template changed since your version, merged with what you changed). The screen shows the
// changes, the merged graph on a read-only canvas (steps added, changed or in conflict marked, following the
// choices), lets you settle each conflict (keep yours or take the template's), and applies it as a new draft
// version; the live version keeps running until you publish.
import { useState } from "react";
import { ApiError } from "../api/client";
import { useWorkflow } from "../api/queries";
import type { Graph } from "../api/types";
import { ProblemNote } from "../settings/ProblemNote";
import type { Conflict, Resolutions, Update, Upgrade } from "./api";
import { MergeCanvas } from "./MergeCanvas";
import { useApplyUpgrade, useMergePreview, useUpdates } from "./queries";
import "./templates.css";

const OPS = { added: "Added", removed: "Removed", changed: "Changed" } as const;

/** "nodes.shape.config.fields" → "Step “Shape the data” › config › fields", with the step's label when known. */
export function pathText(path: string, graph: Graph | undefined): string {
  const [kind, id, ...rest] = path.split(".");
  if (kind === "nodes" && id) {
    const node = graph?.nodes.find((n) => n.id === id);
    return [`Step “${node?.label || id}”`, ...rest].join(" › ");
  }
  if (kind === "edges" && id) return [`Connection ${id}`, ...rest].join(" › ");
  return path;
}

function Value({ value }: { value: unknown }) {
  if (value === undefined || value === null) return <span className="muted">(none)</span>;
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return text.includes("\n") ? <pre className="merge-value merge-value-block">{text}</pre> : <code className="merge-value">{text}</code>;
}

function ConflictChoice({ conflict, graph, choice, onChoose, fromVersion, toVersion }: {
  conflict: Conflict; graph: Graph | undefined; choice: "workflow" | "template"; onChoose: (c: "workflow" | "template") => void;
  fromVersion: number; toVersion: number;
}) {
  const title = pathText(conflict.path, graph);
  const name = `conflict-${conflict.path}`;
  return (
    <fieldset className="merge-conflict card" data-path={conflict.path}>
      <legend>{title}</legend>
      <p className="muted small">Template version {fromVersion} had <Value value={conflict.base} /></p>
      <label className="merge-option">
        <input type="radio" name={name} value="workflow" checked={choice === "workflow"} onChange={() => onChoose("workflow")} />
        <span><strong>Keep yours</strong> <Value value={conflict.workflow} /></span>
      </label>
      <label className="merge-option">
        <input type="radio" name={name} value="template" checked={choice === "template"} onChange={() => onChoose("template")} />
        <span><strong>Take the template's (version {toVersion})</strong> <Value value={conflict.template} /></span>
      </label>
    </fieldset>
  );
}

function Applied({ result, workflowId }: { result: Upgrade; workflowId: string }) {
  return (
    <section className="card merge-done" role="status" aria-label="Upgrade applied">
      <h2>{result.saved_version ? `Saved as draft version ${result.saved_version}` : "Nothing to change in your workflow"}</h2>
      <p>It now follows version {result.to_version} of the template. The live version keeps running until you publish.</p>
      {!result.valid && <p className="callout callout-warn">The new version has {result.errors.length} problem{result.errors.length === 1 ? "" : "s"} to fix in the editor.</p>}
      {result.notes.length > 0 && <ul className="muted small">{result.notes.map((n) => <li key={n}>{n}</li>)}</ul>}
      <a className="btn btn-primary" href={`#/workflows/${workflowId}`}>Open the workflow</a>
    </section>
  );
}

function Changelog({ update }: { update: Update | undefined }) {
  if (!update?.changelog.length) return null;
  return (
    <section aria-label="What is new in the template">
      <h2>What is new in “{update.template_title}”</h2>
      <ul>{update.changelog.map((c) => <li key={c.version}>v{c.version} ({c.date}): {c.changes}</li>)}</ul>
    </section>
  );
}

export function UpgradePage({ workflowId }: { workflowId: string }) {
  const workflow = useWorkflow(workflowId).data;
  const update = useUpdates().data?.updates.find((u) => u.workflow_id === workflowId);
  const [choices, setChoices] = useState<Resolutions>({});
  const apply = useApplyUpgrade(workflowId);
  const preview = useMergePreview(workflowId, choices, !apply.data);
  const merge = preview.data;
  const upToDate = preview.error instanceof ApiError && /\/(up-to-date|not-from-template)$/.test(preview.error.type);
  const back = <a className="muted small" href={`#/workflows/${workflowId}`}>← Back to {workflow?.name ?? "the workflow"}</a>;

  if (apply.data) return <main className="page merge-page">{back}<Applied result={apply.data} workflowId={workflowId} /></main>;
  return (
    <main className="page merge-page">
      {back}
      <div className="page-head">
        <h1>Update from the template{workflow ? `: ${workflow.name}` : ""}</h1>
        {merge && <span className="tag">template v{merge.from_version} → v{merge.to_version}</span>}
      </div>
      {!merge && !preview.error && <p className="muted" role="status">Comparing your workflow with the template…</p>}
      {upToDate ? (
        <div className="empty card" role="status">
          <h2>Nothing to update</h2>
          <p className="muted">{preview.error?.message}</p>
        </div>
      ) : <ProblemNote error={preview.error} />}
      {merge && (
        <>
          <Changelog update={update} />
          <MergeCanvas graph={merge.graph as Graph} changes={merge.changes} conflicts={merge.conflicts} choices={choices} />
          <section aria-labelledby="merge-changes">
            <h2 id="merge-changes">What changes in your workflow</h2>
            {merge.changes.length === 0 ? <p className="muted">Nothing: your workflow already has every change.</p> : (
              <ul className="merge-changes" aria-label="Changes">
                {merge.changes.map((c) => (
                  <li key={c.path} data-path={c.path} data-op={c.op}>
                    <span className={`tag merge-op merge-op-${c.op}`}>{OPS[c.op]}</span> {pathText(c.path, workflow?.graph)}
                    {c.op === "changed" && <div className="merge-before-after"><Value value={c.before} /> → <Value value={c.after} /></div>}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section aria-labelledby="merge-conflicts">
            <h2 id="merge-conflicts">Conflicts to resolve ({merge.conflicts.length})</h2>
            {merge.conflicts.length === 0
              ? <p className="muted">None: you and the template changed different things.</p>
              : <p className="muted small">You and the template both changed these. Choose which value the new version keeps.</p>}
            {merge.conflicts.map((c) => (
              <ConflictChoice key={c.path} conflict={c} graph={workflow?.graph} choice={choices[c.path] ?? c.resolution}
                fromVersion={merge.from_version} toVersion={merge.to_version}
                onChoose={(choice) => setChoices((current) => ({ ...current, [c.path]: choice }))} />
            ))}
          </section>
          {!merge.valid && <p className="callout callout-warn">After the update the workflow has {merge.errors.length} problem{merge.errors.length === 1 ? "" : "s"} to fix in the editor; it is saved as a draft anyway.</p>}
          {merge.notes.length > 0 && <ul className="muted small" aria-label="Notes">{merge.notes.map((n) => <li key={n}>{n}</li>)}</ul>}
          <ProblemNote error={apply.error} />
          <div className="row merge-actions">
            <button className="btn btn-primary" disabled={apply.isPending || preview.isFetching}
              onClick={() => apply.mutate(Object.fromEntries(merge.conflicts.map((c) => [c.path, choices[c.path] ?? c.resolution])))}>
              {apply.isPending ? "Applying…" : "Apply as a new draft version"}
            </button>
            <a className="btn btn-secondary" href={`#/workflows/${workflowId}`}>Not now</a>
          </div>
        </>
      )}
    </main>
  );
}
