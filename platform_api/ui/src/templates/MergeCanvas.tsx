// The merge screen's canvas: the merged graph (what the new draft version will hold, with the conflicts resolved as
// chosen) drawn read-only with the editor's step nodes; steps the upgrade adds, changes or has a conflict on are
// outlined and badged (not colour alone). It follows the preview, so it changes as conflicts are resolved.
import type { NodeProps } from "@xyflow/react";
import { useMemo, useState } from "react";
import { useNodeTypes } from "../api/queries";
import type { Graph } from "../api/types";
import { createDecorations } from "../editor/context";
import { ReadOnlyCanvas } from "../editor/ReadOnlyCanvas";
import { StepNode } from "../editor/StepNode";
import { toFlow, type StepNode as StepNodeT } from "../lib/graph";
import type { Change, Conflict, Resolutions } from "./api";
import { MERGE_MARK_LABELS, mergeMarks, type MergeMark } from "./mergeMarks";

/** `kept`: for a step in conflict, whose values the new version keeps as chosen so far. */
type MergeNode = StepNodeT & { data: StepNodeT["data"] & { merge?: MergeMark; kept?: string } };

function MergeStep(props: NodeProps<MergeNode>) {
  const { merge: mark, kept } = props.data;
  return (
    <>
      <StepNode {...props} />
      {mark && <span className={`diff-badge merge-badge-${mark}`}>{MERGE_MARK_LABELS[mark]}{kept && ` · ${kept}`}</span>}
    </>
  );
}

const KEPT = { workflow: "yours", template: "template's" } as const;

/** Per step in conflict: "yours", "template's", or "mixed" when its conflicts were settled both ways. */
function keptBySteps(conflicts: Conflict[], choices: Resolutions): Map<string, string> {
  const sides = new Map<string, Set<string>>();
  for (const c of conflicts) {
    const [kind, id] = c.path.split(".");
    if (kind !== "nodes" || !id) continue;
    sides.set(id, (sides.get(id) ?? new Set()).add(KEPT[choices[c.path] ?? c.resolution]));
  }
  return new Map([...sides].map(([id, kept]) => [id, kept.size > 1 ? "mixed" : [...kept][0]]));
}

const NODE_TYPES = { step: MergeStep };
const LEGEND: MergeMark[] = ["added", "changed", "conflict"];

type Props = { graph: Graph; changes: Change[]; conflicts: Conflict[]; choices: Resolutions };

export function MergeCanvas({ graph, changes, conflicts, choices }: Props) {
  const nodeTypes = useNodeTypes();
  const [decorations] = useState(createDecorations);
  const env = useMemo(
    () => ({ types: new Map((nodeTypes.data ?? []).map((t) => [t.type, t])), decorations }),
    [nodeTypes.data, decorations],
  );
  const flow = useMemo(() => {
    const marks = mergeMarks(changes, conflicts);
    const kept = keptBySteps(conflicts, choices);
    const plain = toFlow(graph);
    return {
      nodes: plain.nodes.map((n): MergeNode => {
        const mark = marks.nodes.get(n.id);
        return { ...n, className: mark ? `merge-${mark}` : undefined, data: { ...n.data, merge: mark, kept: kept.get(n.id) } };
      }),
      edges: plain.edges.map((e) => {
        const mark = marks.edges.get(e.id);
        return mark ? { ...e, className: [e.className, `merge-edge-${mark}`].filter(Boolean).join(" ") } : e;
      }),
    };
  }, [graph, changes, conflicts, choices]);
  return (
    <section className="merge-canvas-section" aria-labelledby="merge-canvas-title">
      <h2 id="merge-canvas-title">Your workflow after the update</h2>
      <ul className="diff-legend" aria-label="Legend">
        {LEGEND.map((mark) => <li key={mark}><span className={`diff-swatch merge-swatch-${mark}`} />{MERGE_MARK_LABELS[mark]}</li>)}
      </ul>
      <div className="merge-canvas" data-testid="merge-canvas">
        {!nodeTypes.data && !nodeTypes.error ? <p className="muted" role="status">Loading the steps…</p> : (
          <ReadOnlyCanvas<MergeNode> nodes={flow.nodes} edges={flow.edges} nodeTypes={NODE_TYPES} env={env} />
        )}
      </div>
    </section>
  );
}
