// The workflows list, with the way to create one, to run a published one now, to import a workflow file and to
// export every workflow as one file.
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useCreateWorkflow, useStartRun, useWorkflows, versionQuery } from "../api/queries";
import type { GraphNode, JsonSchema, WorkflowSummary } from "../api/types";
import { Icon } from "../components/Icon";
import { EmptyState, Loading } from "../components/ListState";
import { StatusPill } from "../components/StatusPill";
import { useToast } from "../components/Toasts";
import { RunDialog } from "../editor/RunDialog";
import { useDates } from "../lib/dates";
import { navigate } from "../lib/route";
import { GettingStarted } from "../onboarding/GettingStarted";
import { saveBlob } from "../settings/download";
import { useMe } from "../settings/queries";
import { useUpdates } from "../templates/queries";
import { workflowFiles } from "../workflows/api";
import { ImportDialog } from "../workflows/ImportDialog";

type Starting = { workflow: WorkflowSummary; trigger: GraphNode | undefined };

function NewWorkflowForm({ onCancel }: { onCancel: () => void }) {
  const [name, setName] = useState("");
  const creation = useCreateWorkflow();
  const error = creation.error;
  const problem = error && (error instanceof ApiError ? `${error.message} ${error.hint ?? ""}` : String(error));
  const create = (event: FormEvent) => {
    event.preventDefault();
    creation.mutate({ name: name.trim(), graph: { nodes: [], edges: [] } }, {
      onSuccess: (workflow) => navigate(`/workflows/${workflow.id}`),
    });
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
  const { ago: timeAgo } = useDates();
  const { data: workflows, error } = useWorkflows();
  const updates = useUpdates().data?.updates; // workflows whose template has a newer version
  const problem = error?.message;
  const [creating, setCreating] = useState(false);
  const [starting, setStarting] = useState<Starting | null>(null);
  const [importing, setImporting] = useState(false);
  const [exporting, setExporting] = useState(false);
  const me = useMe().data;
  const importRefused = me && !me.permissions.includes("create_edit") ? "Only an editor or above can import workflows." : undefined;
  const client = useQueryClient();
  const startRun = useStartRun();
  const toast = useToast();

  /** Opens the run form for the published version's trigger. */
  const runNow = async (workflow: WorkflowSummary) => {
    try {
      const { graph } = await client.fetchQuery(versionQuery(workflow.id, workflow.published_version!));
      setStarting({ workflow, trigger: graph.nodes.find((n) => n.type.startsWith("trigger.")) });
    } catch (error) {
      toast(`Could not open ${workflow.name}: ${(error as Error).message}`, "error");
    }
  };
  const startLive = async (input: Record<string, unknown>) => {
    const { run_id } = await startRun.mutateAsync({ workflowId: starting!.workflow.id, input, mode: "live" });
    navigate(`/runs/${run_id}`);
  };
  /** Every workflow of the workspace as one YAML file. */
  const exportAll = async () => {
    setExporting(true);
    try {
      const { blob, fileName } = await workflowFiles.exportWorkspace("yaml");
      saveBlob(blob, fileName ?? "workflows.yaml");
    } catch (error) {
      const hint = error instanceof ApiError && error.hint ? ` ${error.hint}` : "";
      toast(`Could not export the workflows: ${(error as Error).message}${hint}`, "error");
    } finally {
      setExporting(false);
    }
  };
  return (
    <main className="page">
      <div className="page-head">
        <h1>Workflows</h1>
        <div className="page-actions">
          <button className="btn btn-ghost" onClick={exportAll} disabled={exporting || !workflows?.length}
            title="Download every workflow as one YAML file">{exporting ? "Exporting…" : "Export all"}</button>
          <button className="btn btn-secondary" onClick={() => setImporting(true)} disabled={!!importRefused}
            title={importRefused ?? "Create or update a workflow from a file"}>Import</button>
          <button className="btn btn-primary" onClick={() => setCreating(true)}>+ New workflow</button>
        </div>
      </div>
      {creating && <NewWorkflowForm onCancel={() => setCreating(false)} />}
      <GettingStarted onDraw={() => setCreating(true)} />
      {problem && <div className="callout callout-error">{problem}</div>}
      {!workflows && !problem && <Loading what="your workflows" />}
      {workflows?.length === 0 && !creating && (
        <EmptyState icon="bolt" title="Automate your first task"
          action={<>
            <button className="btn btn-primary" onClick={() => setCreating(true)}>Create your first workflow</button>
            <a className="btn btn-secondary" href="#/templates">Start from a template</a>
          </>}>
          A workflow starts with a trigger and runs steps for you: shape a new lead, call your CRM, log what happened.
        </EmptyState>
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
              {w.published_version !== null && (
                <button className="btn btn-secondary btn-xs" onClick={() => runNow(w)} title={`Run version ${w.published_version} now`}>
                  <Icon name="play" size={14} />Run<span className="sr-only"> {w.name}</span> now
                </button>
              )}
              <a className="btn btn-ghost btn-xs" href={`#/runs?workflow=${w.id}`} aria-label={`Runs of ${w.name}`}>Runs</a>
              {updates?.some((u) => u.workflow_id === w.id) && (
                <a className="btn btn-secondary btn-xs" href={`#/upgrade/${w.id}`}>Update available<span className="sr-only"> for {w.name}</span></a>
              )}
            </li>
          ))}
        </ul>
      )}
      {starting && (
        <RunDialog mode="live" workflowName={starting.workflow.name} schema={starting.trigger?.config.input_schema as JsonSchema | undefined}
          sample={starting.trigger?.config.sample} onRun={startLive} onClose={() => setStarting(null)} />
      )}
      {importing && <ImportDialog onClose={() => setImporting(false)} />}
    </main>
  );
}
