import type { GraphError } from "../api/types";
import type { IndexedErrors } from "../lib/errors";

type Props = { errors: IndexedErrors; labelOf: (nodeId: string) => string; onPick: (nodeId: string) => void };

export function ProblemsMenu({ errors, labelOf, onPick }: Props) {
  const item = (error: GraphError, nodeId?: string) => (
    <li key={`${error.path}${error.message}`}>
      <button className="problem" onClick={() => nodeId && onPick(nodeId)} disabled={!nodeId}>
        <strong>{nodeId ? labelOf(nodeId) : "Workflow"}: </strong>{error.message}
        <span className="muted small">{error.hint}</span>
      </button>
    </li>
  );
  return (
    <div className="popover problems" role="dialog" aria-label="Problems">
      <h3>Problems to fix</h3>
      <ul>
        {errors.general.map((e) => item(e))}
        {[...errors.byNode.entries()].flatMap(([nodeId, list]) => list.map((e) => item(e, nodeId)))}
      </ul>
    </div>
  );
}
