// One step on the canvas. Handles come from the node type's inputs and outputs, so a new type with
// outputs ["true", "false"] draws two labelled handles without code changes here.
import { Handle, Position, useStore, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import { CATEGORY_ICONS, Icon } from "../components/Icon";
import { DEFAULT_HANDLE, type StepNode as StepNodeT } from "../lib/graph";
import { useSelector } from "../lib/store";
import { useEditorEnv } from "./context";
import "./steps.css";

const NO_ERRORS: never[] = [];

/** Output handles of a node whose type is unknown: the ones its edges already use. */
function useUsedHandles(id: string): string[] {
  return useStore((s) => {
    const used = s.edges.filter((e) => e.source === id).map((e) => e.sourceHandle ?? DEFAULT_HANDLE);
    return [...new Set([DEFAULT_HANDLE, ...used])].join("|");
  }).split("|");
}

function StepNodeView({ id, data, selected }: NodeProps<StepNodeT>) {
  const { types, decorations } = useEditorEnv();
  const type = types.get(data.type);
  const errors = useSelector(decorations, (d) => d.errors.get(id) ?? NO_ERRORS);
  const status = useSelector(decorations, (d) => d.steps.get(id)?.status);
  const unknownHandles = useUsedHandles(id);
  const outputs = type ? type.outputs : unknownHandles;
  const hasInput = type ? type.inputs.length > 0 : true;
  const classes = ["step-node", selected && "selected", errors.length && "has-errors", !type && "unknown", data.disabled && "step-disabled"];

  return (
    <div className={classes.filter(Boolean).join(" ")} data-status={status ?? ""} data-node-id={id}
      style={outputs.length > 2 ? { minHeight: outputs.length * 22 + 8 } : undefined}
      data-category={type?.category ?? "Unknown"} title={errors.map((e) => e.message).join("\n") || undefined}>
      {hasInput && <Handle type="target" position={Position.Left} className="handle-in" />}
      <div className="step-icon"><Icon name={type ? CATEGORY_ICONS[type.category] ?? "puzzle" : "help"} /></div>
      <div className="step-text">
        <div className="step-title">{data.label || type?.label || data.type}</div>
        <div className="step-sub">{type ? type.label : `Unknown step type “${data.type}”`}{data.disabled && " · disabled"}</div>
      </div>
      {errors.length > 0 && <span className="step-badge" aria-label={`${errors.length} problems`}>{errors.length}</span>}
      {status && <span className={`step-status status-${status}`}>{status}</span>}
      <div className="step-outputs">
        {outputs.map((handle, index) => (
          <Handle key={handle} id={handle} type="source" position={Position.Right}
            className={`handle-out handle-${handle}`}
            style={outputs.length > 1 ? { top: `${((index + 1) * 100) / (outputs.length + 1)}%` } : undefined}>
            {outputs.length > 1 && <span className="handle-label">{handle === DEFAULT_HANDLE ? "" : handle}</span>}
          </Handle>
        ))}
      </div>
    </div>
  );
}

export const StepNode = memo(StepNodeView);
