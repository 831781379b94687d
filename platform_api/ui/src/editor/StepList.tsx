// On a phone: the workflow's steps as a list to pick from (the canvas is too small to tap them reliably),
// each but the trigger with its enable / disable switch.
import type { Findable } from "./findStep";
import { StepSwitch } from "./StepSwitch";

export type ListedStep = Findable & { disabled: boolean; trigger: boolean };

type Props = {
  steps: ListedStep[];
  selected: string | null;
  onPick: (id: string) => void;
  /** Absent when read-only. */
  onToggle?: (id: string, disabled: boolean) => void;
};

export function StepList({ steps, selected, onPick, onToggle }: Props) {
  if (!steps.length) return null;
  return (
    <nav className="step-list" aria-label="Steps">
      <ul>
        {steps.map((s) => (
          <li key={s.id} className={s.disabled ? "step-disabled" : undefined}>
            <button className={`btn btn-chip${s.id === selected ? " step-list-current" : ""}`} aria-current={s.id === selected ? "true" : undefined}
              data-node-id={s.id} onClick={() => onPick(s.id)}>
              {s.label || s.typeLabel || s.id}
            </button>
            {!s.trigger && (
              <StepSwitch id={s.id} label={s.label || s.typeLabel || s.id} disabled={s.disabled} readOnly={!onToggle} compact
                onToggle={(id, disabled) => onToggle?.(id, disabled)} />
            )}
          </li>
        ))}
      </ul>
    </nav>
  );
}
