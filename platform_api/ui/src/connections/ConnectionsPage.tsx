// Connections: the workspace's accounts at SendGrid, Twilio, X, ... that steps send through. Add, edit,
// test, connect (OAuth networks) and delete them. `#/connections?add=<type>` opens the form for a type;
// `&workflow=<id>` (from a template's setup) offers to use a new connection in that workflow.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Icon } from "../components/Icon";
import { useToast } from "../components/Toasts";
import { humanize } from "../lib/format";
import { useDates } from "../lib/dates";
import { navigate } from "../lib/route";
import { connections, STATUS_LABELS, typeLabel, type Connection, type ConnectionStatus, type ConnectionType, type TestResult } from "./api";
import { ConnectionForm } from "./ConnectionForm";
import { DeleteDialog } from "./DeleteDialog";
import { errorMessage } from "./messages";
import { storeConnection, useConnections, useConnectionTypes, useStartOAuth, useTestConnection } from "./queries";
import { SetupBanner } from "./SetupBanner";
import "./connections.css";
import { EmptyState, Loading } from "../components/ListState";

type FormState = { connection?: Connection; type?: string };

const OAUTH_WATCH_MS = 15 * 60_000; // as long as the API's sign-in link lasts
const PILL: Record<ConnectionStatus, string> = { ok: "completed", failed: "failed", needs_auth: "waiting", untested: "untested" };

function ConnectionItem({ connection, type, result, busy, onTest, onEdit, onDelete, onConnect }: {
  connection: Connection; type: ConnectionType | undefined; result: TestResult | undefined; busy: string;
  onTest: () => void; onEdit: () => void; onDelete: () => void; onConnect: () => void;
}) {
  const { ago: timeAgo } = useDates();
  const c = connection;
  const shownError = !result && c.status === "failed" ? c.last_error : null;
  const settings = Object.entries(c.config).filter(([, v]) => v !== null && v !== "" && typeof v !== "object");
  return (
    <li className="card connection-item" data-connection-id={c.id} aria-label={c.name}>
      <div className="connection-main">
        <div className="connection-title">
          <strong>{c.name}</strong>
          <span className="tag">{typeLabel(type, c.type)}</span>
          <span className={`pill pill-${PILL[c.status]}`} data-status={c.status}>{STATUS_LABELS[c.status]}</span>
          {c.use_for_alerts && <span className="tag tag-live" title="Failure alerts are emailed through it">Alerts</span>}
        </div>
        <dl className="connection-facts small">
          {settings.map(([key, value]) => (
            <div key={key}><dt>{humanize(key)}:</dt><dd>{String(value)}</dd></div>
          ))}
          {Object.entries(c.secrets).map(([key, mask]) => (
            <div key={key}><dt>{humanize(key)}:</dt><dd className="secret" data-secret={key}>{mask}</dd></div>
          ))}
          <div><dt>Last test:</dt><dd>{c.last_tested_at ? timeAgo(c.last_tested_at) : "never"}</dd></div>
        </dl>
        {shownError && (
          <div className="callout callout-error connection-result">
            <strong>{shownError.message}</strong>
            {shownError.hint && <p>{shownError.hint}</p>}
          </div>
        )}
        {result && (
          <div className={`callout connection-result ${result.ok ? "callout-ok" : "callout-error"}`} role={result.ok ? "status" : "alert"}
            aria-label="Test result">
            <strong>{result.ok ? "Test passed: " : "Test failed: "}{result.message}</strong>
            {result.hint && <p>{result.hint}</p>}
          </div>
        )}
      </div>
      <div className="connection-actions">
        {type?.oauth && (
          <button className={`btn btn-xs ${c.status === "needs_auth" ? "btn-primary" : "btn-secondary"}`} onClick={onConnect}
            disabled={!!busy} aria-label={`Connect ${c.name}`}>
            {busy === "connect" ? "Opening…" : c.status === "needs_auth" ? "Connect" : "Reconnect"}
          </button>
        )}
        <button className="btn btn-secondary btn-xs" onClick={onTest} disabled={!!busy || c.status === "needs_auth"}
          aria-label={`Test ${c.name}`} title={c.status === "needs_auth" ? "Connect it first" : "Check the credentials with the service"}>
          {busy === "test" ? "Testing…" : "Test"}
        </button>
        <button className="btn btn-ghost btn-xs" onClick={onEdit} disabled={!!busy} aria-label={`Edit ${c.name}`}>Edit</button>
        <button className="btn btn-ghost btn-xs" onClick={onDelete} disabled={!!busy} aria-label={`Delete ${c.name}`}>
          <Icon name="trash" size={14} />Delete
        </button>
      </div>
    </li>
  );
}

export function ConnectionsPage({ add, workflowId }: { add: string | null; workflowId: string | null }) {
  const { data: types = null, error: typesError } = useConnectionTypes();
  const { data: items = null, error: listError } = useConnections();
  const problem = (listError ?? typesError)?.message;
  const [form, setForm] = useState<FormState | null>(null);
  const [deleting, setDeleting] = useState<Connection | null>(null);
  const [results, setResults] = useState<Record<string, TestResult>>({});
  const [busy, setBusy] = useState<Record<string, string>>({});
  const [added, setAdded] = useState<Connection | null>(null);
  const client = useQueryClient();
  const { mutateAsync: testConnection } = useTestConnection();
  const { mutateAsync: startOAuth } = useStartOAuth();
  const toast = useToast();

  useEffect(() => {
    if (add) setForm({ type: add });
  }, [add]);

  const typeOf = (slug: string) => types?.find((t) => t.type === slug);
  const setBusyFor = (id: string, what: string) => setBusy((b) => ({ ...b, [id]: what }));

  const closeForm = () => {
    setForm(null);
    if (add) navigate(`/connections${workflowId ? `?workflow=${encodeURIComponent(workflowId)}` : ""}`);
  };

  const saved = (connection: Connection, created: boolean) => {
    closeForm();
    setResults(({ [connection.id]: _, ...rest }) => rest);
    if (created) setAdded(connection);
    const next = connection.status === "needs_auth" ? " Press Connect to sign in to the account." : " Press Test to check it.";
    toast(`${created ? "Added" : "Saved"} “${connection.name}”`, "success", next.trim());
  };

  const test = async (connection: Connection) => {
    setBusyFor(connection.id, "test");
    try {
      const result = await testConnection(connection.id);
      setResults((r) => ({ ...r, [connection.id]: result }));
    } catch (error) {
      setResults((r) => ({ ...r, [connection.id]: { ok: false, ...errorMessage(error) } }));
    } finally {
      setBusyFor(connection.id, "");
    }
  };

  // While someone signs in on a network's consent page (another tab), the connection is watched so that the
  // list shows the outcome as soon as Flowyard's callback has it, whether or not this tab gets the focus back.
  const watchers = useRef(new Map<string, number>());
  useEffect(() => {
    const running = watchers.current;
    return () => running.forEach((timer) => clearInterval(timer));
  }, []);
  const watch = (before: Connection) => {
    clearInterval(watchers.current.get(before.id));
    const until = Date.now() + OAUTH_WATCH_MS;
    const timer = window.setInterval(async () => {
      const fresh = await connections.read(before.id).catch(() => null);
      const changed = fresh && (fresh.updated_at !== before.updated_at || fresh.status !== before.status);
      if (fresh) storeConnection(client, fresh);
      if (changed || Date.now() > until) {
        clearInterval(timer);
        watchers.current.delete(before.id);
        if (changed && fresh.status === "ok") toast(`“${fresh.name}” is connected`, "success");
      }
    }, 2000);
    watchers.current.set(before.id, timer);
  };

  const connect = async (connection: Connection) => {
    // Opened now, while the click still counts as the user's: a window opened after the request is blocked.
    const tab = window.open("", "_blank");
    setBusyFor(connection.id, "connect");
    try {
      const { authorize_url } = await startOAuth(connection.id);
      if (tab) {
        tab.opener = null;
        tab.location.href = authorize_url;
        toast("Finish signing in in the new tab", "info", "This page updates once the account is connected.");
      } else {
        window.location.assign(authorize_url);
      }
      watch(connection);
    } catch (error) {
      tab?.close();
      setResults((r) => ({ ...r, [connection.id]: { ok: false, ...errorMessage(error) } }));
    } finally {
      setBusyFor(connection.id, "");
    }
  };

  const deleted = () => {
    const gone = deleting!;
    setDeleting(null);
    toast(`Deleted “${gone.name}”`, "success");
  };

  return (
    <main className="page connections-page">
      <div className="page-head">
        <div>
          <h1>Connections</h1>
          <span className="muted">Your accounts at the services your workflows send through.</span>
        </div>
        <button className="btn btn-primary" onClick={() => setForm({})} disabled={!types}>+ Add connection</button>
      </div>
      {workflowId && types && <SetupBanner workflowId={workflowId} added={added} types={types} />}
      {problem && <div className="callout callout-error" role="alert">{problem}</div>}
      {!items && !problem && <Loading what="your connections" />}
      {items?.length === 0 && (
        <EmptyState icon="plug" title="Connect your first account"
          action={<button className="btn btn-primary" onClick={() => setForm({})} disabled={!types}>Add a connection</button>}>
          Email through SendGrid, texts through Twilio, posts on X or Mastodon: add the account once, then choose it in any step.
        </EmptyState>
      )}
      {!!items?.length && (
        <ul className="list connections" aria-label="Your connections">
          {items.map((c) => (
            <ConnectionItem key={c.id} connection={c} type={typeOf(c.type)} result={results[c.id]} busy={busy[c.id] ?? ""}
              onTest={() => test(c)} onEdit={() => setForm({ connection: c })} onDelete={() => setDeleting(c)} onConnect={() => connect(c)} />
          ))}
        </ul>
      )}
      {form && types && (
        <ConnectionForm types={types} connection={form.connection} initialType={form.type} onSaved={saved} onClose={closeForm} />
      )}
      {deleting && <DeleteDialog connection={deleting} onDeleted={deleted} onClose={() => setDeleting(null)} />}
    </main>
  );
}
