// The expression helper: a menu of references to insert into a text field.
import { useState } from "react";
import { Icon } from "../components/Icon";
import type { ReferenceGroup } from "./references";

function preview(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 28 ? `${text.slice(0, 27)}…` : text;
}

export function InsertData({ groups, onPick }: { groups: ReferenceGroup[]; onPick: (expression: string) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <div className="insert-data">
      <button type="button" className="btn btn-ghost btn-xs" onClick={() => setOpen(!open)} aria-expanded={open}
        title="Insert data from the trigger or an earlier step">
        <Icon name="braces" size={14} /> Insert data
      </button>
      {open && (
        <div className="insert-menu" role="menu">
          {groups.length === 0 && <p className="muted">Connect this step after the trigger to use its data.</p>}
          {groups.map((group) => (
            <div key={group.title} className="insert-group">
              <div className="insert-title">{group.title}</div>
              {group.references.map((ref) => (
                <button key={ref.path} type="button" role="menuitem" className="insert-item" data-expression={ref.expression}
                  onMouseDown={(e) => e.preventDefault()} onClick={() => { onPick(ref.expression); setOpen(false); }}>
                  <code>{ref.path}</code>
                  <span className="muted">{preview(ref.example)}</span>
                </button>
              ))}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
