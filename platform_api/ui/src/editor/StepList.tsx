// On a phone: the workflow's steps as a list to pick from (the canvas is too small to tap them reliably).
import type { Findable } from "./findStep";

type Props = { steps: Findable[]; selected: string | null; onPick: (id: string) => void };

export function StepList({ steps, selected, onPick }: Props) {
  if (!steps.length) return null;
  return (
    <nav className="step-list" aria-label="Steps">
      <ul>
        {steps.map((s) => (
          <li key={s.id}>
            <button className={`btn btn-chip${s.id === selected ? " step-list-current" : ""}`} aria-current={s.id === selected ? "true" : undefined}
              data-node-id={s.id} onClick={() => onPick(s.id)}>
              {s.label || s.typeLabel || s.id}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
