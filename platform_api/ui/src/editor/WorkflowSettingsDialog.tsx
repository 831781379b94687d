// The editor's Workflow settings: what happens when a run is still going as the next starts (queue, skip or run
// in parallel, with an optional limit), and whether publishing this workflow needs approval (its own rule or the
// workspace's). PUT /workflows/{id} with only what changed: no graph, so no new version; the workflow is read again.
import { useState } from "react";
import { useSaveWorkflowSettings, useWorkflow, type WorkflowSettings } from "../api/queries";
import type { Workflow } from "../api/types";
import { Modal } from "../components/Modal";
import { useToast } from "../components/Toasts";
import { FieldProblem, ProblemNote } from "../settings/ProblemNote";
import { useMe, useWorkspace } from "../settings/queries";

type Policy = Workflow["conflict_policy"];
type Approval = "workspace" | "always" | "never";

const POLICIES: { value: Policy; label: string; note: string }[] = [
  { value: "queue", label: "Queue it", note: "It starts once the run before it has finished." },
  { value: "skip", label: "Skip it", note: "It is cancelled: only one run at a time, none waiting." },
  { value: "parallel", label: "Run in parallel", note: "Runs go at the same time." },
];

const APPROVAL_VALUE: Record<Approval, boolean | null> = { workspace: null, always: true, never: false };
const approvalOf = (value: boolean | null | undefined): Approval => (value == null ? "workspace" : value ? "always" : "never");

const APPROVAL_LOCKED = "Only an admin or owner can change this.";
const EDIT_LOCKED = "Only an editor or above can change a workflow's settings.";
const MAX_PARALLEL = 10_000;

/** The limit as typed: null for none (empty), undefined when it is not a whole number from 1 to 10,000. */
function parseLimit(text: string): number | null | undefined {
  const trimmed = text.trim();
  if (!trimmed) return null;
  const value = Number(trimmed);
  return Number.isInteger(value) && value >= 1 && value <= MAX_PARALLEL ? value : undefined;
}

/** What the form changes against the workflow as the server has it: only those fields are sent. */
function changes(current: Workflow, policy: Policy, limit: number | null, approval: Approval): WorkflowSettings {
  const body: WorkflowSettings = {};
  if (policy !== current.conflict_policy) body.conflict_policy = policy;
  if (policy === "parallel" && limit !== (current.max_parallel ?? null)) body.max_parallel = limit;
  if (APPROVAL_VALUE[approval] !== (current.publish_requires_approval ?? null)) body.publish_requires_approval = APPROVAL_VALUE[approval];
  return body;
}

type Props = { workflow: Workflow; onClose: () => void };

export function WorkflowSettingsDialog({ workflow, onClose }: Props) {
  const current = useWorkflow(workflow.id, { refetchOnWindowFocus: false }).data ?? workflow;
  const me = useMe().data;
  const workspace = useWorkspace().data;
  const save = useSaveWorkflowSettings(workflow.id);
  const toast = useToast();
  const [policy, setPolicy] = useState<Policy>(current.conflict_policy);
  const [limitText, setLimitText] = useState(current.max_parallel ? String(current.max_parallel) : "");
  const [approval, setApproval] = useState<Approval>(approvalOf(current.publish_requires_approval));

  const editLocked = me && !me.permissions.includes("create_edit") ? EDIT_LOCKED : null;
  const approvalLocked = me && !me.permissions.includes("manage_settings") ? APPROVAL_LOCKED : null;
  const limit = parseLimit(limitText);
  const limitInvalid = policy === "parallel" && limit === undefined;
  const body = changes(current, policy, limit ?? null, approval);
  const changed = Object.keys(body).length > 0;
  const workspaceRule = workspace === undefined
    ? "the workspace's rule"
    : workspace.publish_requires_approval ? "the workspace requires approval" : "the workspace publishes without approval";

  const submit = () => {
    if (!me || !changed || limitInvalid || editLocked) return;
    save.mutate(body, {
      onSuccess: () => {
        toast("Workflow settings saved", "success");
        onClose();
      },
    });
  };

  return (
    <Modal title="Workflow settings" onClose={onClose} footer={
      <>
        {editLocked && <span className="muted small settings-locked" data-testid="workflow-settings-locked">{editLocked}</span>}
        <button className="btn btn-secondary" onClick={onClose}>Cancel</button>
        <button className="btn btn-primary" onClick={submit} disabled={!me || !changed || limitInvalid || !!editLocked || save.isPending}
          title={editLocked ?? (changed ? undefined : "Nothing changed")}>
          {save.isPending ? "Saving…" : "Save"}
        </button>
      </>
    }>
      <p className="muted small">These take effect at once, for every version; they do not make a new version.</p>
      <fieldset className="choice-group" disabled={!me || !!editLocked}>
        <legend>When a run is still going as the next starts</legend>
        {POLICIES.map((choice) => (
          <label key={choice.value} className="choice">
            <input type="radio" name="conflict-policy" value={choice.value} checked={policy === choice.value}
              onChange={() => setPolicy(choice.value)} />
            <span><strong>{choice.label}</strong> <span className="muted small">{choice.note}</span></span>
          </label>
        ))}
        {policy === "parallel" && (
          <div className={`choice-extra${limitInvalid ? " field-invalid" : ""}`}>
            <label className="choice-inline">
              At most
              <input type="number" min={1} max={MAX_PARALLEL} step={1} inputMode="numeric" value={limitText} placeholder="no limit"
                onChange={(e) => setLimitText(e.target.value)} aria-invalid={limitInvalid} aria-label="At most this many runs at once" />
              at once
            </label>
            <span className="help">Leave it empty for no limit.</span>
            {limitInvalid && <span className="field-error">A whole number from 1 to {MAX_PARALLEL.toLocaleString()}, or empty for no limit.</span>}
            <FieldProblem error={save.error} path="max_parallel" />
          </div>
        )}
        <FieldProblem error={save.error} path="conflict_policy" />
      </fieldset>

      <fieldset className="choice-group" disabled={!me || !!editLocked || !!approvalLocked}
        aria-describedby={approvalLocked ? "approval-locked" : undefined}>
        <legend>Approval before production</legend>
        <label className="choice">
          <input type="radio" name="approval" value="workspace" checked={approval === "workspace"} onChange={() => setApproval("workspace")} />
          <span><strong>Follow the workspace</strong> <span className="muted small" data-testid="workspace-rule">Now {workspaceRule}.</span></span>
        </label>
        <label className="choice">
          <input type="radio" name="approval" value="always" checked={approval === "always"} onChange={() => setApproval("always")} />
          <span><strong>Always require approval</strong> <span className="muted small">A version goes live once an owner or admin approves it.</span></span>
        </label>
        <label className="choice">
          <input type="radio" name="approval" value="never" checked={approval === "never"} onChange={() => setApproval("never")} />
          <span><strong>Never require approval</strong> <span className="muted small">Publish makes a version live at once.</span></span>
        </label>
        {approvalLocked && <span className="muted small settings-locked" id="approval-locked" data-testid="approval-locked">{approvalLocked}</span>}
        <FieldProblem error={save.error} path="publish_requires_approval" />
      </fieldset>
      <ProblemNote error={save.error} fields={["max_parallel", "conflict_policy", "publish_requires_approval"]} />
    </Modal>
  );
}

/** The toolbar's button that opens the dialog. */
export function WorkflowSettingsButton({ workflow }: { workflow: Workflow }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button className="btn btn-ghost btn-icon" onClick={() => setOpen(true)} aria-haspopup="dialog" aria-label="Workflow settings"
        title="Workflow settings: overlapping runs, approval before production">
        <svg width={18} height={18} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round"
          aria-hidden="true" className="icon">
          <path d="M4 6h9M17 6h3M15 4v4M4 12h3M11 12h9M9 10v4M4 18h11M19 18h1M17 16v4" />
        </svg>
      </button>
      {open && <WorkflowSettingsDialog workflow={workflow} onClose={() => setOpen(false)} />}
    </>
  );
}
