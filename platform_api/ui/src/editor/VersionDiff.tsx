// Comparing two versions: both graphs side by side on read-only canvases (stacked on a narrow screen), steps
// coloured by what happened to them, a legend, the trigger called out, and the changes field by field.
import type { NodeProps } from "@xyflow/react";
import { useMemo, useState, type ReactNode } from "react";
import { useVersion, useVersionDiff } from "../api/queries";
import type { Graph, VersionInfo } from "../api/types";
import { Modal } from "../components/Modal";
import { ProblemNote } from "../settings/ProblemNote";
import { createDecorations, useEditorEnv } from "./context";
import { ReadOnlyCanvas } from "./ReadOnlyCanvas";
import { StepNode } from "./StepNode";
import {
  changeCount, diffMarks, edgeText, fieldText, fieldTitle, labelsOf, MARK_LABELS, markedFlow, triggerText,
  type DiffMark, type DiffNode, type SideMarks, type VersionDiff as Diff,
} from "./versionDiff";

/** A step as the editor draws it, with a badge naming what happened to it (not colour alone). */
function DiffStep(props: NodeProps<DiffNode>) {
  const mark = props.data.diff;
  return (
    <>
      <StepNode {...props} />
      {mark && <span className={`diff-badge diff-badge-${mark}`}>{MARK_LABELS[mark]}</span>}
    </>
  );
}

const NODE_TYPES = { step: DiffStep };

/** `name`: what the side shows, e.g. "version 3" or "nothing live"; `version` is null when it is no version. */
type CanvasProps = { side: "before" | "after"; name: string; version: number | null; graph: Graph | undefined; marks: SideMarks | undefined };

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** One version's graph, read-only. Its own React Flow store and no editor decorations (errors, run steps). */
function DiffCanvas({ side, name, version, graph, marks }: CanvasProps) {
  const { types } = useEditorEnv();
  const [decorations] = useState(createDecorations);
  const env = useMemo(() => ({ types, decorations }), [types, decorations]);
  const flow = useMemo(() => graph && markedFlow(graph, marks ?? { nodes: new Map(), edges: new Map() }), [graph, marks]);
  return (
    <section className={`diff-side diff-${side}`} aria-label={capitalized(name)} data-version={version ?? undefined}>
      <h4>{side === "before" ? "Before" : "After"}: {name}</h4>
      <div className="diff-canvas">
        {!flow ? <p className="muted diff-loading">Loading {name}…</p> : (
          <ReadOnlyCanvas<DiffNode> nodes={flow.nodes} edges={flow.edges} nodeTypes={NODE_TYPES} env={env} />
        )}
      </div>
    </section>
  );
}

const LEGEND: [DiffMark, string][] = [
  ["added", "Added (after)"], ["removed", "Removed (before)"], ["changed", "Changed"], ["moved", "Moved only"],
];

function Legend() {
  return (
    <ul className="diff-legend" aria-label="Legend">
      {LEGEND.map(([mark, text]) => <li key={mark}><span className={`diff-swatch diff-swatch-${mark}`} />{text}</li>)}
    </ul>
  );
}

function Changes({ diff, labelOf }: { diff: Diff; labelOf: (id: string) => string }) {
  const { types } = useEditorEnv();
  const typeLabel = (type: string) => types.get(type)?.label ?? type;
  const steps = (title: string, mark: DiffMark, list: { id: string; label: string; type: string }[] | undefined) =>
    !!list?.length && (
      <div className="diff-group" data-kind={`steps-${mark}`}>
        <h4><span className={`diff-swatch diff-swatch-${mark}`} />{title}</h4>
        <ul>{list.map((n) => <li key={n.id}><strong>{n.label || n.id}</strong> <span className="muted">{typeLabel(n.type)}</span></li>)}</ul>
      </div>
    );
  const edges = (title: string, list: { id: string; source: string; target: string; source_handle?: string | null }[] | undefined) =>
    !!list?.length && (
      <div className="diff-group" data-kind="edges">
        <h4>{title}</h4>
        <ul>{list.map((e) => <li key={e.id}>{edgeText(e, labelOf)}</li>)}</ul>
      </div>
    );
  return (
    <div className="diff-changes" data-testid="diff-changes">
      {steps("Steps added", "added", diff.nodes_added)}
      {steps("Steps removed", "removed", diff.nodes_removed)}
      {!!diff.nodes_changed?.length && (
        <div className="diff-group" data-kind="steps-changed">
          <h4><span className="diff-swatch diff-swatch-changed" />Steps changed</h4>
          {diff.nodes_changed.map((n) => (
            <div key={n.id} className="diff-step" data-node-id={n.id}>
              <strong>{n.label || n.id}</strong> <span className="muted">{typeLabel(n.type)}</span>
              <ul className="diff-fields">
                {n.fields.map((f) => {
                  const title = fieldTitle(f.path, n.type, types);
                  return (
                    <li key={f.path} data-path={f.path} className={f.secret ? "diff-secret" : undefined}>
                      <code>{f.path}</code>{title && <span className="muted"> ({title})</span>}: <span className="diff-value">{fieldText(f)}</span>
                    </li>
                  );
                })}
              </ul>
            </div>
          ))}
        </div>
      )}
      {steps("Steps moved on the canvas", "moved", diff.nodes_moved)}
      {edges("Connections added", diff.edges_added)}
      {edges("Connections removed", diff.edges_removed)}
      {!!diff.edges_changed?.length && (
        <div className="diff-group" data-kind="edges">
          <h4>Connections changed</h4>
          <ul>{diff.edges_changed.map((e) => <li key={e.id}>{edgeText(e.before, labelOf)} ⇒ {edgeText(e.after, labelOf)}</li>)}</ul>
        </div>
      )}
    </div>
  );
}

function VersionSelect({ label, value, versions, onChange }: {
  label: string; value: number; versions: VersionInfo[]; onChange: (version: number) => void;
}) {
  return (
    <label className="diff-pick">{label}
      <select value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {versions.map((v) => (
          <option key={v.version} value={v.version}>Version {v.version}{v.published ? " (live)" : ""}{v.message ? ` — ${v.message}` : ""}</option>
        ))}
      </select>
    </label>
  );
}

type Props = { workflowId: string; versions: VersionInfo[]; from: number; to: number; onClose: () => void };

export function VersionDiffDialog({ workflowId, versions, from: initialFrom, to: initialTo, onClose }: Props) {
  const [from, setFrom] = useState(initialFrom);
  const [to, setTo] = useState(initialTo);
  const diff = useVersionDiff(workflowId, from, to);
  const before = useVersion(workflowId, from).data?.graph;
  const after = useVersion(workflowId, to).data?.graph;
  return (
    <Modal title="Compare versions" onClose={onClose} footer={<button className="btn btn-secondary" onClick={onClose}>Close</button>}>
      <div className="version-diff">
        <div className="diff-picks">
          <VersionSelect label="Before" value={from} versions={versions} onChange={setFrom} />
          <button className="btn btn-ghost btn-xs diff-swap" onClick={() => { setFrom(to); setTo(from); }}
            title="Swap the two sides" aria-label="Swap the two sides">⇄</button>
          <VersionSelect label="After" value={to} versions={versions} onChange={setTo} />
        </div>
        {from === to && <p className="muted">Pick two different versions to compare.</p>}
        <ProblemNote error={diff.error} />
        {diff.isFetching && !diff.data && from !== to && <p className="muted">Comparing…</p>}
        <GraphDiffView diff={diff.data} before={before} after={after} beforeName={`version ${from}`} afterName={`version ${to}`}
          beforeVersion={from} afterVersion={to}
          triggerNote={<p>Runs start differently in version {to} than in version {from}: check the trigger before you publish or restore.</p>} />
      </div>
    </Modal>
  );
}

type ViewProps = {
  diff: Diff | undefined;
  before: Graph | undefined;
  after: Graph | undefined;
  /** What each side shows, as in "Before: version 3" (or "nothing live"). */
  beforeName: string;
  afterName: string;
  beforeVersion: number | null;
  afterVersion: number | null;
  /** Under the trigger callout: what a changed trigger means here. */
  triggerNote?: ReactNode;
};

/** What changed between two graphs: the trigger called out, both sides drawn with their marks, a legend and the
 * changes field by field. Needs the node types in an EditorContext. Used by Compare versions and by a publish request. */
export function GraphDiffView({ diff, before, after, beforeName, afterName, beforeVersion, afterVersion, triggerNote }: ViewProps) {
  const marks = useMemo(() => diff && diffMarks(diff), [diff]);
  const labelOf = useMemo(() => labelsOf(before, after), [before, after]);
  const { types } = useEditorEnv();
  const count = diff ? changeCount(diff) : 0;
  return (
    <>
      {diff?.trigger && (
        <div className="callout callout-warn diff-trigger" role="status" data-testid="trigger-change">
          <strong>{triggerText(diff.trigger, types)}</strong>
          {triggerNote}
        </div>
      )}
      {diff?.unchanged && (
        <p className="callout diff-unchanged" role="status">{capitalized(beforeName)} and {afterName} are the same: no step, setting or connection differs.</p>
      )}
      {diff && !diff.unchanged && (
        <p className="muted small">{count} change{count === 1 ? "" : "s"} from {beforeName} to {afterName}.</p>
      )}
      <div className="diff-canvases">
        <DiffCanvas key={`before-${beforeName}`} side="before" name={beforeName} version={beforeVersion} graph={before} marks={marks?.before} />
        <DiffCanvas key={`after-${afterName}`} side="after" name={afterName} version={afterVersion} graph={after} marks={marks?.after} />
      </div>
      <Legend />
      {diff && !diff.unchanged && <Changes diff={diff} labelOf={labelOf} />}
    </>
  );
}
