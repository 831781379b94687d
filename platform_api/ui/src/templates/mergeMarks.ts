// What the merge screen's canvas marks on the merged graph: steps and connections the upgrade adds or changes,
// and those with a conflict (whichever value was chosen), from the paths of the API's changes and conflicts
// (`nodes.<id>`, `nodes.<id>.config.<field>`, `edges.<id>` ...). Removed ones are not in the merged graph: the
// list of changes names them.
import type { Change, Conflict } from "./api";

export type MergeMark = "added" | "changed" | "conflict";
export type MergeMarks = { nodes: Map<string, MergeMark>; edges: Map<string, MergeMark> };

export const MERGE_MARK_LABELS: Record<MergeMark, string> = { added: "Added", changed: "Changed", conflict: "Conflict" };

function target(path: string): { kind: "nodes" | "edges"; id: string; whole: boolean } | null {
  const [kind, id, ...rest] = path.split(".");
  if ((kind !== "nodes" && kind !== "edges") || !id) return null;
  return { kind, id, whole: rest.length === 0 };
}

export function mergeMarks(changes: Pick<Change, "path" | "op">[], conflicts: Pick<Conflict, "path">[]): MergeMarks {
  const marks: MergeMarks = { nodes: new Map(), edges: new Map() };
  for (const change of changes) {
    const at = target(change.path);
    if (!at || change.op === "removed" && at.whole) continue;
    const mark: MergeMark = change.op === "added" && at.whole ? "added" : "changed";
    if (marks[at.kind].get(at.id) !== "added") marks[at.kind].set(at.id, mark);
  }
  for (const conflict of conflicts) { // a conflict outweighs any other mark: it needs a choice
    const at = target(conflict.path);
    if (at) marks[at.kind].set(at.id, "conflict");
  }
  return marks;
}
