// The dashboard's tables: per workflow (the workspace's report) and per step (one workflow's report).
import type { Report } from "./api";
import { ms, percent } from "./api";

export function WorkflowTable({ rows, onOpen }: { rows: Report["workflows"]; onOpen: (workflowId: string) => void }) {
  return (
    <div className="table-scroll card">
      <table className="report-table" aria-label="Runs per workflow">
        <thead><tr><th>Workflow</th><th>Runs</th><th>Failed</th><th>Success</th><th>p95</th></tr></thead>
        <tbody>
          {rows.map((w) => (
            <tr key={w.workflow_id} data-workflow-id={w.workflow_id}>
              <td><button className="btn-link" onClick={() => onOpen(w.workflow_id)}>{w.name}</button></td>
              <td>{w.runs}</td>
              <td className={w.failed ? "bad" : ""}>{w.failed}</td>
              <td>{percent(w.success_rate)}</td>
              <td>{ms(w.p95_ms)}</td>
            </tr>
          ))}
          {rows.length === 0 && <tr><td colSpan={5} className="muted">No live runs ended in this range.</td></tr>}
        </tbody>
      </table>
    </div>
  );
}

export function StepTable({ rows }: { rows: Report["steps"] }) {
  return (
    <div className="table-scroll card">
      <table className="report-table" aria-label="Failures and duration per step">
        <thead><tr><th>Step</th><th>Runs</th><th>Failures</th><th>p95</th></tr></thead>
        <tbody>
          {rows.map((s) => (
            <tr key={s.node_id} data-node-id={s.node_id}>
              <td>{s.label || s.node_id}</td>
              <td>{s.runs}</td>
              <td className={s.failures ? "bad" : ""}>{s.failures}</td>
              <td>{ms(s.p95_ms)}</td>
            </tr>
          ))}
          {rows.length === 0 && <tr><td colSpan={4} className="muted">No step ran in this range.</td></tr>}
        </tbody>
      </table>
    </div>
  );
}
