// The workspace: name, time zone and how long run data is kept; whether publishing needs approval and who still
// publishes directly; and the other workspaces the user belongs to.
import { useState, type FormEvent } from "react";
import { saveSession } from "../api/client";
import type { Session } from "../api/types";
import { useToast } from "../components/Toasts";
import { navigate } from "../lib/route";
import { retentionChanges, settingsApi, type KeyRotation as KeyRotationResult, type Me, type Retention, type Workspace } from "./api";
import { refusal } from "./permissions";
import { FieldProblem, ProblemNote } from "./ProblemNote";
import { useUpdateWorkspace, useWorkspace } from "./queries";

const RETENTION: { key: keyof Retention; label: string; help: string }[] = [
  { key: "run_history_days", label: "Run history (days)", help: "Runs and their steps older than this are deleted." },
  { key: "step_payload_days", label: "Step data (days)", help: "The inputs and outputs of steps are cleared after this." },
  { key: "log_days", label: "Logs (days)", help: "Log lines of runs are deleted after this." },
];

const ZONES: string[] = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];

type Form = { name: string; time_zone: string } & Record<keyof Retention, string>;

export function WorkspaceSection({ me, onSwitched }: { me: Me | undefined; onSwitched: (s: Session) => void }) {
  const { data: workspace, error } = useWorkspace();
  return (
    <>
      <h2>Workspace</h2>
      <ProblemNote error={error} />
      {workspace && <WorkspaceForm key={workspace.id} workspace={workspace} locked={refusal(me, "edit_workspace")} />}
      {workspace && <ApprovalForm key={`approval-${workspace.id}`} workspace={workspace} locked={refusal(me, "edit_workspace")} />}
      {me && <KeyRotation locked={refusal(me, "rotate_keys")} />}
      {me && me.memberships.length > 1 && <WorkspaceSwitcher me={me} onSwitched={onSwitched} />}
    </>
  );
}

function KeyRotation({ locked }: { locked: string | null }) {
  const [result, setResult] = useState<KeyRotationResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const rotate = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await settingsApi.rotateKey());
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="card settings-form" aria-label="Encryption key">
      <h3>Encryption key</h3>
      <p className="muted">Connections' secrets and webhook signing secrets are encrypted with the workspace's own key.
        Rotating it seals them all again under a new key, while workflows keep running.</p>
      <ProblemNote error={error} />
      {result && (
        <div className={`callout ${result.lost_secrets.length ? "callout-warn" : "callout-ok"}`} role="status">
          <strong>New key in use: {result.connections} connections and {result.webhook_secrets} webhook secrets sealed again.</strong>
          {result.lost_secrets.length > 0 && <p>Enter these secrets again, they could not be opened: {result.lost_secrets.join(", ")}.</p>}
        </div>
      )}
      <div className="row">
        <button className="btn btn-secondary" onClick={rotate} disabled={!!locked || busy} title={locked ?? undefined}>
          {busy ? "Rotating…" : "Rotate the key"}
        </button>
        {locked && <span className="muted small">{locked}</span>}
      </div>
    </div>
  );
}

const formOf = (w: Workspace): Form => ({
  name: w.name, time_zone: w.time_zone, run_history_days: String(w.retention.run_history_days),
  step_payload_days: String(w.retention.step_payload_days), log_days: String(w.retention.log_days),
});

function WorkspaceForm({ workspace, locked }: { workspace: Workspace; locked: string | null }) {
  const update = useUpdateWorkspace();
  const toast = useToast();
  const [form, setForm] = useState<Form>(() => formOf(workspace));
  const set = (key: keyof Form) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [key]: e.target.value }));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const retention = retentionChanges(form, workspace.retention);
    update.mutate({ name: form.name.trim(), time_zone: form.time_zone.trim(), ...(Object.keys(retention).length ? { retention } : {}) },
      { onSuccess: (fresh) => {
        setForm(formOf(fresh));
        toast("Workspace settings saved", "success");
      } });
  };

  return (
    <form className="card settings-form" onSubmit={submit} aria-label="Workspace settings">
      <label>Name
        <input value={form.name} onChange={set("name")} disabled={!!locked} maxLength={200} required />
        <FieldProblem error={update.error} path="name" />
      </label>
      <label>Time zone
        <input value={form.time_zone} onChange={set("time_zone")} disabled={!!locked} list="time-zones" required />
        <span className="help">Schedules, delays and time conditions use it, and the builder shows every date and time in it, e.g. Europe/Berlin.</span>
        <FieldProblem error={update.error} path="time_zone" />
      </label>
      <datalist id="time-zones">{ZONES.map((z) => <option key={z} value={z} />)}</datalist>
      <fieldset className="settings-retention">
        <legend>Retention</legend>
        {RETENTION.map(({ key, label, help }) => (
          <label key={key}>{label}
            <input type="number" min={1} value={form[key]} onChange={set(key)} disabled={!!locked}
              placeholder={`${workspace.retention.defaults[key]} (default)`} />
            <span className="help">{help} Empty: the default, {workspace.retention.defaults[key]}.</span>
            <FieldProblem error={update.error} path={key} />
          </label>
        ))}
      </fieldset>
      <ProblemNote error={update.error} fields={["name", "time_zone", ...RETENTION.map((r) => r.key)]} />
      <div className="row">
        <button className="btn btn-primary" disabled={!!locked || update.isPending} title={locked ?? undefined}>
          {update.isPending ? "Saving…" : "Save"}
        </button>
        {locked && <span className="muted small">{locked}</span>}
      </div>
    </form>
  );
}

type DirectRole = Workspace["publish_direct_roles"][number];
const DIRECT_ROLES: { role: DirectRole; label: string }[] = [{ role: "owner", label: "Owners" }, { role: "admin", label: "Admins" }];

/** Approval before production: on, every publish by someone not let publish directly waits for an owner or admin. */
function ApprovalForm({ workspace, locked }: { workspace: Workspace; locked: string | null }) {
  const update = useUpdateWorkspace();
  const toast = useToast();
  const [required, setRequired] = useState(!!workspace.publish_requires_approval);
  const [direct, setDirect] = useState<DirectRole[]>(workspace.publish_direct_roles);
  const toggle = (role: DirectRole) =>
    setDirect((roles) => DIRECT_ROLES.map((r) => r.role).filter((r) => (r === role ? !roles.includes(r) : roles.includes(r))));
  const changed = required !== !!workspace.publish_requires_approval
    || direct.join() !== workspace.publish_direct_roles.join();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    update.mutate({ publish_requires_approval: required, publish_direct_roles: direct }, {
      onSuccess: (fresh) => {
        setRequired(!!fresh.publish_requires_approval);
        setDirect(fresh.publish_direct_roles);
        toast(fresh.publish_requires_approval ? "Publishing now needs approval" : "Publishing no longer needs approval", "success");
      },
    });
  };
  return (
    <form className="card settings-form" onSubmit={submit} aria-label="Approval before production">
      <h3>Approval before production</h3>
      <p className="muted">When it is on, a version goes live only once an owner or admin approves it: others' Publish becomes
        Request publish, and the versions wait in <a href="#/publish-requests">Changes to approve</a>. A workflow can have its own rule.</p>
      <label className="switch">
        <input type="checkbox" checked={required} onChange={(e) => setRequired(e.target.checked)} disabled={!!locked} />
        Require approval before publishing
      </label>
      <fieldset className="approval-roles" disabled={!!locked || !required}>
        <legend>Who may still publish directly</legend>
        {DIRECT_ROLES.map(({ role, label }) => (
          <label key={role} className="switch">
            <input type="checkbox" checked={direct.includes(role)} onChange={() => toggle(role)} /> {label}
          </label>
        ))}
        <span className="help">Editors always ask for approval. Nobody ticked: every publish is reviewed, and no one approves their own.</span>
        <FieldProblem error={update.error} path="publish_direct_roles" />
      </fieldset>
      <ProblemNote error={update.error} fields={["publish_direct_roles"]} />
      <div className="row">
        <button className="btn btn-primary" disabled={!!locked || update.isPending || !changed} title={locked ?? undefined}>
          {update.isPending ? "Saving…" : "Save"}
        </button>
        {locked && <span className="muted small" data-testid="approval-locked">{locked}</span>}
      </div>
    </form>
  );
}

function WorkspaceSwitcher({ me, onSwitched }: { me: Me; onSwitched: (s: Session) => void }) {
  const [error, setError] = useState<unknown>(null);
  const switchTo = async (tenant: Me["tenant"]) => {
    setError(null);
    try {
      const { token } = await settingsApi.switchTo(tenant.id);
      const session = { token, tenant, email: me.user.email };
      saveSession(session);
      onSwitched(session);
      navigate("/");
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <>
      <h2>Your workspaces</h2>
      <ProblemNote error={error} />
      <ul className="list" aria-label="Your workspaces">
        {me.memberships.map((m) => (
          <li key={m.tenant.id} className="card settings-row">
            <div className="settings-row-main"><strong>{m.tenant.name}</strong> <span className="tag">{m.role}</span></div>
            {m.tenant.id === me.tenant.id
              ? <span className="muted small">Current</span>
              : <button className="btn btn-secondary btn-xs" onClick={() => switchTo(m.tenant)}>Switch</button>}
          </li>
        ))}
      </ul>
    </>
  );
}
