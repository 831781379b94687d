// Enable / disable a step (n8n's "Deactivate node"): a disabled step does not run; the data it is reached
// with passes through it, out of its first output. A trigger cannot be disabled, so it has no switch.
import "./steps.css";

type Props = {
  id: string;
  label: string;
  disabled: boolean;
  readOnly?: boolean;
  /** A short "on" / "off" (the phone's step list) instead of the sentence. */
  compact?: boolean;
  onToggle: (id: string, disabled: boolean) => void;
};

export function StepSwitch({ id, label, disabled, readOnly, compact, onToggle }: Props) {
  const text = compact ? (disabled ? "off" : "on") : disabled ? "Disabled: skipped when the workflow runs, its input passed on" : "Enabled";
  return (
    <label className="step-switch" data-node-id={id}>
      <input type="checkbox" role="switch" checked={!disabled} disabled={readOnly}
        aria-label={`Run ${label}`} onChange={(e) => onToggle(id, !e.target.checked)} />
      <span>{text}</span>
    </label>
  );
}
