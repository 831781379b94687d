// API keys for CI and scripts: their scopes and when each was last used; a new key is shown once; revoke.
import { useState, type FormEvent } from "react";
import { Icon } from "../components/Icon";
import { useToast } from "../components/Toasts";
import { useDates } from "../lib/dates";
import { ROLES, SCOPES, type ApiKey, type Me, type Role, type Scope } from "./api";
import { grantable, refusal } from "./permissions";
import { FieldProblem, ProblemNote } from "./ProblemNote";
import { useApiKeys, useCreateApiKey, useRevokeApiKey } from "./queries";
import { Loading } from "../components/ListState";

const SCOPE_HELP: Record<Scope, string> = {
  read: "read workflows, runs and reports", run: "start runs", deploy: "save and publish workflows", admin: "everything an admin may do",
};

export function ApiKeysSection({ me }: { me: Me | undefined }) {
  const { dateTime, ago: timeAgo } = useDates();
  const locked = refusal(me, "manage_api_keys");
  const { data: keys, error } = useApiKeys(!!me && !locked);
  const revoke = useRevokeApiKey();
  const toast = useToast();
  const live = keys?.filter((k) => !k.revoked_at) ?? [];

  const revokeKey = (key: ApiKey) => {
    if (!window.confirm(`Revoke “${key.name}”? Anything using it stops working at once.`)) return;
    revoke.mutate(key.id, { onSuccess: () => toast(`Revoked “${key.name}”`, "success") });
  };

  return (
    <>
      <h2>API keys</h2>
      {locked ? <p className="callout callout-info">{locked}</p> : <CreateKeyForm roles={grantable(me?.role, ROLES)} />}
      <ProblemNote error={error ?? revoke.error} />
      {!keys && !error && !locked && <Loading what="API keys" />}
      {keys && live.length === 0 && <p className="muted">No API keys yet: create one above for a script or CI to call the API.</p>}
      {live.length > 0 && (
        <ul className="list" aria-label="API keys">
          {live.map((k) => (
            <li key={k.id} className="card settings-row" aria-label={k.name}>
              <div className="settings-row-main">
                <strong>{k.name}</strong> <code className="muted">{k.prefix}…</code>
                <div className="muted small">
                  <span className="tag">{k.role}</span>{SCOPES.filter((s) => k.scopes.includes(s)).map((s) => <span key={s} className="tag" data-scope={s}>{s}</span>)}
                  {" "}Created {timeAgo(k.created_at)} · <span data-testid="last-used">{k.last_used_at ? `last used ${timeAgo(k.last_used_at)}` : "never used"}</span>
                  {k.expires_at && <> · expires {dateTime(k.expires_at)}</>}
                </div>
              </div>
              <button className="btn btn-ghost btn-xs" onClick={() => revokeKey(k)} aria-label={`Revoke ${k.name}`}>
                <Icon name="trash" size={14} />Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function CreateKeyForm({ roles }: { roles: Role[] }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const [scopes, setScopes] = useState<Scope[]>(["read"]);
  const [days, setDays] = useState("");
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const create = useCreateApiKey();

  const toggle = (scope: Scope) => setScopes((s) => (s.includes(scope) ? s.filter((x) => x !== scope) : [...s, scope]));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setCreated(null);
    create.mutate({ name: name.trim(), role, scopes, ...(days ? { expires_in_days: Number(days) } : {}) }, {
      onSuccess: (answer) => {
        setCreated({ name: answer.name, key: answer.key });
        setName("");
      },
    });
  };

  return (
    <form className="card settings-form" onSubmit={submit} aria-label="New API key">
      <div className="settings-inline">
        <label>Name
          <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={100} placeholder="CI deploys" />
          <FieldProblem error={create.error} path="name" />
        </label>
        <label className="settings-narrow">Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => <option key={r} value={r} disabled={!roles.includes(r)}>{r}</option>)}
          </select>
          <FieldProblem error={create.error} path="role" />
        </label>
        <label className="settings-narrow">Expires after (days)
          <input type="number" min={1} value={days} onChange={(e) => setDays(e.target.value)} placeholder="never" />
          <FieldProblem error={create.error} path="expires_in_days" />
        </label>
      </div>
      <fieldset className="settings-scopes">
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <label key={scope} className="settings-check">
            <input type="checkbox" checked={scopes.includes(scope)} onChange={() => toggle(scope)} />
            <span><strong>{scope}</strong> <span className="muted small">{SCOPE_HELP[scope]}</span></span>
          </label>
        ))}
        <span className="help">A key does at most what its role may, and only within its scopes.</span>
        <FieldProblem error={create.error} path="scopes" />
      </fieldset>
      <ProblemNote error={create.error} fields={["name", "role", "expires_in_days", "scopes"]} />
      <div className="row">
        <button className="btn btn-primary" disabled={create.isPending || !scopes.length}>{create.isPending ? "Creating…" : "Create key"}</button>
      </div>
      {created && (
        <div className="callout callout-ok" role="status" aria-label="New API key">
          <strong>Copy the key for “{created.name}” now: it is shown only once.</strong>
          <input readOnly value={created.key} aria-label="API key" onFocus={(e) => e.target.select()} />
        </div>
      )}
    </form>
  );
}
