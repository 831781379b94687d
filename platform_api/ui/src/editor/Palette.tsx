// The node types, grouped by category, searchable; drag one onto the canvas (or click to add it).
import { memo, useMemo, useState } from "react";
import type { NodeTypeInfo } from "../api/types";
import { CATEGORY_ICONS, Icon } from "../components/Icon";

export const DRAG_MIME = "application/flowyard-node-type";
const CATEGORY_ORDER = ["Triggers", "Actions", "Logic", "Integrations", "Delays", "Data", "Utilities"];

function groupByCategory(types: NodeTypeInfo[]): [string, NodeTypeInfo[]][] {
  const groups = new Map<string, NodeTypeInfo[]>();
  for (const type of types) groups.set(type.category, [...(groups.get(type.category) ?? []), type]);
  const rank = (c: string) => (CATEGORY_ORDER.includes(c) ? CATEGORY_ORDER.indexOf(c) : CATEGORY_ORDER.length);
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

function matches(type: NodeTypeInfo, query: string): boolean {
  const text = `${type.label} ${type.description} ${type.type} ${type.category}`.toLowerCase();
  return query.toLowerCase().split(/\s+/).every((word) => text.includes(word));
}

type Props = { types: NodeTypeInfo[]; onAdd: (type: string) => void };

function PaletteView({ types, onAdd }: Props) {
  const [query, setQuery] = useState("");
  const groups = useMemo(() => groupByCategory(types.filter((t) => matches(t, query.trim()))), [types, query]);
  return (
    <aside className="palette" aria-label="Steps you can add">
      <div className="palette-search">
        <Icon name="search" size={16} />
        <input type="search" placeholder="Search steps" value={query} onChange={(e) => setQuery(e.target.value)}
          aria-label="Search steps" />
      </div>
      {groups.length === 0 && <p className="muted palette-empty">No step matches “{query}”.</p>}
      {groups.map(([category, items]) => (
        <section key={category} className="palette-group">
          <h3>{category}</h3>
          {items.map((type) => (
            <div key={type.type} className="palette-item" draggable data-type={type.type} data-category={category}
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_MIME, type.type);
                e.dataTransfer.effectAllowed = "move";
              }}
              onDoubleClick={() => onAdd(type.type)} title={`${type.description}\nDrag onto the canvas, or double-click to add.`}>
              <span className="step-icon"><Icon name={CATEGORY_ICONS[category] ?? "puzzle"} /></span>
              <span className="palette-text">
                <strong>{type.label}</strong>
                <small>{type.description}</small>
              </span>
            </div>
          ))}
        </section>
      ))}
    </aside>
  );
}

export const Palette = memo(PaletteView);
