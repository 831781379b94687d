// The side panel of the selected step: its settings (a form from the type's JSON Schema), help,
// validation problems and, after a test run, its input, output, error and timing.
import { memo, useState } from "react";
import type { GraphError, NodeTypeInfo, Step } from "../api/types";
import { Icon } from "../components/Icon";
import { JsonView } from "../components/JsonView";
import { StepDetails } from "../components/StepDetails";
import type { StepData } from "../lib/graph";
import { hasTriggerPanel, TriggerPanel, type TriggerWorkflow } from "../triggers/TriggerPanel";
import type { ReferenceGroup } from "./references";
import { SchemaForm } from "./SchemaForm";
import { StepSwitch } from "./StepSwitch";

type Props = {
  id: string;
  data: StepData;
  type: NodeTypeInfo | undefined;
  errors: GraphError[];
  fieldErrors: Map<string, GraphError[]>;
  references: ReferenceGroup[];
  step: Step | undefined;
  readOnly: boolean;
  /** The open workflow, for a trigger step's Trigger tab (its webhook, schedule, ...). */
  workflow: TriggerWorkflow;
  onChange: (id: string, data: Partial<StepData>, field: string) => void;
  onClose: () => void;
};

function NodePanelView({ id, data, type, errors, fieldErrors, references, step, readOnly, workflow, onChange, onClose }: Props) {
  const hasStep = !!step;
  const [tab, setTab] = useState<"settings" | "result" | "trigger">(hasStep ? "result" : "settings");
  const [shownFor, setShownFor] = useState({ id, hasStep }); // another step, or a result to show: back to the default tab
  if (shownFor.id !== id || shownFor.hasStep !== hasStep) {
    setShownFor({ id, hasStep });
    setTab(hasStep ? "result" : "settings");
  }
  const nodeErrors = errors.filter((e) => !/\.config\.[^.[]+/.test(e.path));

  return (
    <aside className="panel" aria-label="Step settings" data-node-id={id}>
      <header className="panel-head">
        <div>
          <div className="panel-kicker">{type ? type.label : "Unknown step type"}</div>
          <h2>{data.label || type?.label || id}</h2>
        </div>
        <button className="btn btn-ghost btn-icon" onClick={onClose} aria-label="Close panel"><Icon name="close" /></button>
      </header>
      <div className="tabs" role="tablist">
        <button role="tab" aria-selected={tab === "settings"} onClick={() => setTab("settings")}>Settings</button>
        {hasTriggerPanel(data.type) && (
          <button role="tab" aria-selected={tab === "trigger"} onClick={() => setTab("trigger")}>Trigger</button>
        )}
        <button role="tab" aria-selected={tab === "result"} onClick={() => setTab("result")} disabled={!step}>
          Test result
        </button>
      </div>
      <div className="panel-body">
        {tab === "trigger" && hasTriggerPanel(data.type) ? (
          <TriggerPanel workflow={workflow} type={data.type} config={data.config} sampleOutput={type?.sample_output}
            readOnly={readOnly} onConfig={(config) => onChange(id, { config }, "config")} />
        ) : tab === "result" && step ? <StepDetails step={step} /> : (
          <fieldset disabled={readOnly} className="plain">
            {type && (
              <div className="help-card">
                <p>{type.description}</p>
                <a href={type.docs_url} target="_blank" rel="noreferrer">Learn more about {type.label} <Icon name="external" size={13} /></a>
              </div>
            )}
            {nodeErrors.map((error, index) => (
              <div key={index} className="callout callout-error" role="alert">
                <strong>{error.message}</strong>
                <p>{error.hint}</p>
              </div>
            ))}
            <div className="field">
              <label htmlFor="step-label">Step name</label>
              <input id="step-label" value={data.label} placeholder={type?.label}
                onChange={(e) => onChange(id, { label: e.target.value }, "label")} />
              <p className="help">Other steps read this step's output as <code>steps.{id}.output</code>.</p>
            </div>
            {type && !type.is_trigger && (
              <StepSwitch id={id} label={data.label || type.label} disabled={!!data.disabled}
                onToggle={(_, disabled) => onChange(id, { disabled }, "disabled")} />
            )}
            {type ? (
              <SchemaForm schema={type.config_schema} value={data.config} errors={fieldErrors}
                references={type.is_trigger ? null : references}
                onChange={(config) => onChange(id, { config }, "config")} />
            ) : (
              <>
                <div className="callout callout-warn">
                  This step's type <code>{data.type}</code> is not available any more. Its settings are kept as they
                  were; delete the step or replace it with another one.
                </div>
                <JsonView label="Settings" value={data.config} />
              </>
            )}
          </fieldset>
        )}
      </div>
    </aside>
  );
}

/** Re-renders only when what it shows changes, not when its step is dragged. */
export const NodePanel = memo(NodePanelView);
