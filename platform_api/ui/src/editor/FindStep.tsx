// Find-a-step (Ctrl-K): a combobox over the workflow's steps by label, id and type. Arrow keys move,
// Enter picks (the editor centres the canvas on the step and opens its panel), Escape closes.
import { useId, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useFocusTrap } from "../components/Modal";
import { findSteps, type Findable } from "./findStep";

type Props = { steps: Findable[]; onPick: (id: string) => void; onClose: () => void };

export function FindStep({ steps, onPick, onClose }: Props) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const matches = useMemo(() => findSteps(steps, query), [steps, query]);
  const base = useId();
  const listId = `${base}-list`;
  const optionId = (i: number) => `${base}-option-${i}`;
  const current = Math.min(active, matches.length - 1);
  const dialog = useRef<HTMLDivElement>(null);
  useFocusTrap(dialog, onClose); // Tab stays in the search, Escape closes it, focus returns to where it was

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === "Escape") return (e.preventDefault(), onClose());
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!matches.length) return;
      const step = e.key === "ArrowDown" ? 1 : -1;
      setActive((current + step + matches.length) % matches.length);
    } else if (e.key === "Enter" && current >= 0) {
      e.preventDefault();
      onPick(matches[current].id);
    }
  };

  return (
    <div className="modal-backdrop find-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div ref={dialog} className="modal find-step" role="dialog" aria-modal="true" aria-label="Find a step">
        <label htmlFor={`${base}-input`} className="sr-only">Find a step</label>
        <input id={`${base}-input`} autoFocus role="combobox" aria-expanded={matches.length > 0} aria-controls={listId}
          aria-autocomplete="list" aria-activedescendant={current >= 0 ? optionId(current) : undefined}
          placeholder="Find a step by name, id or type…" value={query}
          onChange={(e) => { setQuery(e.target.value); setActive(0); }} onKeyDown={onKeyDown} />
        <ul id={listId} role="listbox" aria-label="Steps" className="find-list">
          {matches.map((s, i) => (
            <li key={s.id} id={optionId(i)} role="option" aria-selected={i === current} className="find-option"
              onMouseDown={(e) => e.preventDefault()} onClick={() => onPick(s.id)} onMouseMove={() => i !== current && setActive(i)}>
              <span className="find-label">{s.label || s.typeLabel || s.id}</span>
              <span className="muted small"><code>{s.id}</code> · {s.typeLabel || s.type}</span>
            </li>
          ))}
        </ul>
        {matches.length === 0 && <p className="muted small find-empty" role="status">No step matches “{query}”.</p>}
      </div>
    </div>
  );
}
