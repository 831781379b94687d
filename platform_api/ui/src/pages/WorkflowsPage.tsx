// The workflows list, with the way to create one.
import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError } from "../api/client";
import type { WorkflowSummary } from "../api/types";
import { Icon } from "../components/Icon";
import { StatusPill } from "../components/StatusPill";
import { timeAgo } from "../lib/format";
import { navigate } from "../lib/route";

function NewWorkflowForm({ onCancel }: { onCancel: () => void }) {
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const workflow = await api.createWorkflow(name.trim(), { nodes: [], edges: [] });
      navigate(`/workflows/${workflow.id}`);
    } catch (error) {
      setProblem(error instanceof ApiError ? `${error.message} ${error.hint ?? ""}` : String(error));
    }
  };
  return (
    <form className="card new-workflow" onSubmit={create}>
      <label htmlFor="new-name">Name your workflow</label>
      <div className="row">
        <input id="new-name" autoFocus required placeholder="e.g. Welcome new leads" value={name} onChange={(e) => setName(e.target.value)} />
        <button className="btn btn-primary">Create</button>
        <button type="button" className="btn btn-ghost" onClick={onCancel}>Cancel</button>
      </div>
      {problem && <p className="field-error">{problem}</p>}
    </form>
  );
}

export function WorkflowsPage() {
  const [workflows, setWorkflows] = useState<WorkflowSummary[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  useEffect(() => {
    api.workflows().then(setWorkflows).catch((e: Error) => setProblem(e.message));
  }, []);
  return (
    <main className="page">
      <div className="page-head">
        <h1>Workflows</h1>
        <button className="btn btn-primary" onClick={() => setCreating(true)}>+ New workflow</button>
      </div>
      {creating && <NewWorkflowForm onCancel={() => setCreating(false)} />}
      {problem && <div className="callout callout-error">{problem}</div>}
      {workflows?.length === 0 && !creating && (
        <div className="empty card">
          <Icon name="bolt" size={32} />
          <h2>Automate your first task</h2>
          <p className="muted">A workflow starts with a trigger and runs steps for you: shape a new lead, call your CRM, log what happened.</p>
          <button className="btn btn-primary" onClick={() => setCreating(true)}>Create your first workflow</button>
        </div>
      )}
      {!!workflows?.length && (
        <ul className="list">
          {workflows.map((w) => (
            <li key={w.id}>
              <a className="list-item" href={`#/workflows/${w.id}`}>
                <div>
                  <strong>{w.name}</strong>
                  <div className="muted small">Version {w.version} · edited {timeAgo(w.updated_at)}</div>
                </div>
                <StatusPill status={w.status} />
              </a>
              <a className="btn btn-ghost btn-xs" href={`#/runs?workflow=${w.id}`} aria-label={`Runs of ${w.name}`}>Runs</a>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
