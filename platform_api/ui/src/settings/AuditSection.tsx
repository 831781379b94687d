// The audit log: who did what to which object, newest first, filtered by actor, action, target and time;
// a page at a time; the hash chain checked on demand; the whole log downloaded as JSON Lines.
import { useMemo, useState, type FormEvent } from "react";
import { useDates, zonedToInstant } from "../lib/dates";
import { settingsApi, type AuditCheck, type AuditEvent, type AuditFilters, type Me } from "./api";
import { saveBlob } from "./download";
import { refusal } from "./permissions";
import { FieldProblem, ProblemNote } from "./ProblemNote";
import { useAudit, useMembers } from "./queries";
import { Loading } from "../components/ListState";

const FILTERS: { key: keyof AuditFilters; label: string; type: string; placeholder?: string }[] = [
  { key: "action", label: "Action", type: "text", placeholder: "member.invited" },
  { key: "actor", label: "Actor", type: "text", placeholder: "user or API key id" },
  { key: "target", label: "Target", type: "text", placeholder: "workflow:…" },
  { key: "from", label: "From", type: "datetime-local" },
  { key: "to", label: "To", type: "datetime-local" },
];

/** Who acted: a member's email where the user is still a member, else the id of the user or API key. */
function actorOf(event: AuditEvent, emails: Map<string, string>): string {
  if (event.actor_api_key_id) return `API key ${event.actor_api_key_id}`;
  if (event.actor_user_id) return emails.get(event.actor_user_id) ?? `user ${event.actor_user_id}`;
  return "anonymous";
}

/** "member:<user id>" with the member's email where known; other targets as recorded. */
function targetOf(target: string, emails: Map<string, string>): string {
  const [kind, id] = target.split(/:(.*)/s);
  return kind === "member" && emails.has(id) ? `member ${emails.get(id)}` : target;
}

export function AuditSection({ me }: { me: Me | undefined }) {
  const { dateTime, zone } = useDates();
  const locked = refusal(me, "see_audit");
  const [draft, setDraft] = useState<AuditFilters>({});
  const [filters, setFilters] = useState<AuditFilters>({});
  const audit = useAudit(filters, !!me && !locked);
  const events = audit.data?.pages.flatMap((p) => p.events) ?? [];
  const { data: members } = useMembers(!!me);
  const emails = useMemo(() => new Map(members?.map((m) => [m.user_id, m.email])), [members]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    const instant = (typed?: string) => (typed?.trim() ? zonedToInstant(typed.trim(), zone) : undefined);
    setFilters({ ...draft, from: instant(draft.from), to: instant(draft.to) }); // typed in the workspace's zone
  };

  if (locked) return <><h2>Audit log</h2><p className="callout callout-info">{locked}</p></>;
  return (
    <>
      <div className="settings-head">
        <h2>Audit log</h2>
        <ChainTools />
      </div>
      <form className="card settings-form" onSubmit={apply} aria-label="Audit filters">
        <div className="audit-filters">
          {FILTERS.map(({ key, label, type, placeholder }) => (
            <label key={key}>{label}
              <input type={type} value={draft[key] ?? ""} placeholder={placeholder}
                onChange={(e) => setDraft((d) => ({ ...d, [key]: e.target.value }))} />
              <FieldProblem error={audit.error} path={key} />
            </label>
          ))}
          <button className="btn btn-secondary">Filter</button>
        </div>
      </form>
      <ProblemNote error={audit.error} fields={FILTERS.map((f) => f.key)} />
      {audit.isLoading && <Loading what="the audit log" />}
      {audit.isSuccess && events.length === 0 && <p className="muted">Nothing recorded matches: clear a filter to see more.</p>}
      {events.length > 0 && (
        <div className="audit-table-wrap">
          <table className="audit-table" aria-label="Audit events">
            <thead><tr><th>Time</th><th>Action</th><th>Target</th><th>Actor</th><th>Address</th><th>Detail</th></tr></thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id} data-action={e.action}>
                  <td>{dateTime(e.created_at)}</td>
                  <td><code>{e.action}</code></td>
                  <td className="audit-wrap">{targetOf(e.target, emails)}</td>
                  <td className="audit-wrap">{actorOf(e, emails)}</td>
                  <td>{e.client_address ?? "—"}</td>
                  <td className="audit-wrap small">{Object.keys(e.detail).length ? JSON.stringify(e.detail) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {audit.hasNextPage && (
        <button className="btn btn-secondary" onClick={() => audit.fetchNextPage()} disabled={audit.isFetchingNextPage}>
          {audit.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </>
  );
}

function ChainTools() {
  const [check, setCheck] = useState<AuditCheck | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState("");
  const run = async (what: string, act: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    try {
      await act();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy("");
    }
  };
  const verify = () => run("verify", async () => setCheck(await settingsApi.verifyAudit()));
  const download = () => run("export", async () => saveBlob(await settingsApi.exportAudit(), "audit.jsonl"));
  return (
    <div className="settings-tools">
      <button className="btn btn-secondary btn-xs" onClick={verify} disabled={!!busy}>{busy === "verify" ? "Checking…" : "Verify chain"}</button>
      <button className="btn btn-secondary btn-xs" onClick={download} disabled={!!busy}>{busy === "export" ? "Preparing…" : "Export (JSON Lines)"}</button>
      {check && (
        <span className={`pill ${check.ok ? "pill-completed" : "pill-failed"}`} role="status">
          {check.ok ? `Intact: ${check.checked} events checked` : `Altered at event ${check.first_bad_id}`}
        </span>
      )}
      <ProblemNote error={error} />
    </div>
  );
}
