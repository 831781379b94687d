// A step's `connection` field: a select of the tenant's connections of the type the step needs
// (`x-connection-type` in its schema), with a link to add one on the Connections page. The page opens in a
// new tab so that the workflow being edited stays as it is; the list reloads when this tab is back in front.
import { STATUS_LABELS } from "../connections/api";
import { useConnections } from "../connections/queries";
import "../connections/connections.css";

type Props = { id: string; type: string; value: unknown; onChange: (value: unknown) => void };

export function ConnectionSelect({ id, type, value, onChange }: Props) {
  const { data: items = null, error, refetch } = useConnections(type);
  const problem = error?.message;

  const current = typeof value === "string" && value !== "" ? value : "";
  const known = !current || !items || items.some((c) => c.id === current);
  return (
    <div className="connection-select">
      <div className="row">
        <select id={id} value={current} aria-invalid={!known || undefined}
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}>
          <option value="">{items === null && !problem ? "Loading connections…" : "Choose a connection…"}</option>
          {items?.map((c) => (
            <option key={c.id} value={c.id}>{c.name}{c.status === "ok" ? "" : ` (${STATUS_LABELS[c.status].toLowerCase()})`}</option>
          ))}
          {!known && <option value={current}>Unknown connection ({current.slice(0, 8)}…)</option>}
        </select>
        <button type="button" className="btn btn-ghost btn-xs" onClick={() => void refetch()} aria-label="Reload connections" title="Reload">↻</button>
      </div>
      {problem && <p className="field-error">Could not load your connections: {problem}</p>}
      {!known && <p className="field-error">This connection does not exist any more: choose another one.</p>}
      {items?.length === 0 && <p className="help">You have no connection of this kind yet.</p>}
      <a className="small" href={`#/connections?add=${encodeURIComponent(type)}`} target="_blank" rel="noopener">
        + Add connection
      </a>
    </div>
  );
}
