import { pretty } from "../lib/format";

export function JsonView({ value, label }: { value: unknown; label: string }) {
  return (
    <div className="json-view">
      <div className="json-label">{label}</div>
      <pre data-testid={`json-${label.toLowerCase()}`}>{value === undefined || value === null ? "—" : pretty(value)}</pre>
    </div>
  );
}
