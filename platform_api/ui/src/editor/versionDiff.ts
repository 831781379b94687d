// Shaping a version diff (GET /workflows/{id}/versions/{a}/diff/{b}) for the compare view: which steps and
// connections to colour on each side, the pair of versions to compare first, and the texts of the field list.
import type { Edge } from "@xyflow/react";
import type { components } from "../api/schema";
import type { Graph, VersionInfo } from "../api/types";
import { toFlow, type StepNode, type TypeMap } from "../lib/graph";

export type VersionDiff = components["schemas"]["VersionDiff"];
export type FieldChange = components["schemas"]["FieldChange"];
export type TriggerChange = components["schemas"]["TriggerChange"];
export type EdgeRef = components["schemas"]["EdgeRef"];

/** How a step or connection differs: added (right side only), removed (left only), changed (both), moved (both). */
export type DiffMark = "added" | "removed" | "changed" | "moved";
export type Side = "before" | "after";

export const MARK_LABELS: Record<DiffMark, string> = { added: "Added", removed: "Removed", changed: "Changed", moved: "Moved" };

export type SideMarks = { nodes: Map<string, DiffMark>; edges: Map<string, DiffMark> };

/** The marks of each side: the older version (before) shows what was removed, the newer (after) what was added. */
export function diffMarks(diff: VersionDiff): Record<Side, SideMarks> {
  const before: SideMarks = { nodes: new Map(), edges: new Map() };
  const after: SideMarks = { nodes: new Map(), edges: new Map() };
  for (const n of diff.nodes_removed ?? []) before.nodes.set(n.id, "removed");
  for (const n of diff.nodes_added ?? []) after.nodes.set(n.id, "added");
  for (const n of diff.nodes_moved ?? []) {
    before.nodes.set(n.id, "moved");
    after.nodes.set(n.id, "moved");
  }
  for (const n of diff.nodes_changed ?? []) { // a changed step may have moved too: changed says more
    before.nodes.set(n.id, "changed");
    after.nodes.set(n.id, "changed");
  }
  for (const e of diff.edges_removed ?? []) before.edges.set(e.id, "removed");
  for (const e of diff.edges_added ?? []) after.edges.set(e.id, "added");
  for (const e of diff.edges_changed ?? []) {
    before.edges.set(e.id, "changed");
    after.edges.set(e.id, "changed");
  }
  return { before, after };
}

export type DiffNodeData = StepNode["data"] & { diff?: DiffMark };
export type DiffNode = StepNode & { data: DiffNodeData };

/** One side's graph as read-only React Flow nodes and edges, each marked with its class (`diff-added`, ...). */
export function markedFlow(graph: Graph, marks: SideMarks): { nodes: DiffNode[]; edges: Edge[] } {
  const flow = toFlow(graph);
  const nodes = flow.nodes.map((n) => {
    const mark = marks.nodes.get(n.id);
    return { ...n, className: mark ? `diff-${mark}` : undefined, data: { ...n.data, diff: mark } };
  });
  const edges = flow.edges.map((e) => {
    const mark = marks.edges.get(e.id);
    const className = [e.className, mark && `diff-edge-${mark}`].filter(Boolean).join(" ") || undefined;
    return { ...e, className };
  });
  return { nodes, edges };
}

/** The versions to compare first from a row: the live version, else the latest; or the one before when the row is
 * that version. Older on the left. Null when there is nothing else to compare with. */
export function comparePair(version: number, versions: Pick<VersionInfo, "version">[], live: number | null | undefined):
  { from: number; to: number } | null {
  const numbers = versions.map((v) => v.version).sort((a, b) => a - b);
  const latest = numbers[numbers.length - 1];
  let other: number | undefined = live && live !== version && numbers.includes(live) ? live : undefined;
  if (other === undefined && latest !== undefined && latest !== version) other = latest;
  if (other === undefined) other = numbers.filter((n) => n < version).pop() ?? numbers.find((n) => n > version);
  if (other === undefined) return null;
  return { from: Math.min(version, other), to: Math.max(version, other) };
}

const MAX_VALUE = 120;

/** A field value as one short line: strings as they are, anything else as JSON. */
export function shortValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "(empty)";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** What happened to a field, as the list shows it: "before → after", "added: x", "removed" or "changed (secret)". */
export function fieldText(change: FieldChange): string {
  const { before, after } = change;
  const empty = (v: unknown) => v === null || v === undefined || v === "";
  if (change.secret) {
    if (empty(before)) return "added (secret)";
    if (empty(after)) return "removed (secret)";
    return "changed (secret)";
  }
  if (empty(before)) return `added: ${shortValue(after)}`;
  if (empty(after)) return `removed (was ${shortValue(before)})`;
  return `${shortValue(before)} → ${shortValue(after)}`;
}

/** The human name of a field path ("config.subject" → the config schema's title "Subject"), or null. */
export function fieldTitle(path: string, type: string, types: TypeMap): string | null {
  if (path === "label") return "Step name";
  if (path === "type") return "Step type";
  if (!path.startsWith("config.")) return null;
  const key = path.slice("config.".length).split(".")[0];
  return types.get(type)?.config_schema.properties?.[key]?.title ?? null;
}

const typeName = (type: string | null | undefined, types: TypeMap) =>
  !type ? "nothing" : types.get(type)?.label ?? type.replace(/^trigger\./, "");

/** The callout of a trigger change: what starts the workflow, before and after. */
export function triggerText(trigger: TriggerChange, types: TypeMap): string {
  const before = typeName(trigger.before, types);
  const after = typeName(trigger.after, types);
  switch (trigger.change) {
    case "added": return `What starts this workflow changed: it now starts with ${after} (it had no trigger)`;
    case "removed": return `What starts this workflow changed: the ${before} trigger was removed, so nothing starts it`;
    case "replaced": return `What starts this workflow changed: ${before} → ${after}`;
    default: {
      const paths = (trigger.fields ?? []).map((f) => f.path.replace(/^config\./, "")).join(", ");
      return `What starts this workflow changed: the ${after} trigger's settings${paths ? ` (${paths})` : ""}`;
    }
  }
}

/** A connection as a sentence: "New lead → Shape the lead" (with its branch, e.g. "(true)"). */
export function edgeText(edge: EdgeRef, labelOf: (id: string) => string): string {
  const handle = edge.source_handle && edge.source_handle !== "default" ? ` (${edge.source_handle})` : "";
  return `${labelOf(edge.source)}${handle} → ${labelOf(edge.target)}`;
}

/** The label of each step of either version, the newer one winning. */
export function labelsOf(...graphs: (Graph | undefined)[]): (id: string) => string {
  const labels = new Map<string, string>();
  for (const graph of graphs) for (const n of graph?.nodes ?? []) labels.set(n.id, n.label || n.id);
  return (id) => labels.get(id) ?? id;
}

/** How many things changed, for the dialog's summary line. */
export function changeCount(diff: VersionDiff): number {
  return (diff.nodes_added?.length ?? 0) + (diff.nodes_removed?.length ?? 0) + (diff.nodes_changed?.length ?? 0)
    + (diff.nodes_moved?.length ?? 0) + (diff.edges_added?.length ?? 0) + (diff.edges_removed?.length ?? 0)
    + (diff.edges_changed?.length ?? 0);
}
