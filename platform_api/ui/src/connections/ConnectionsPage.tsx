// Connections: the workspace's accounts at SendGrid, Twilio, X, ... that steps send through. Add, edit,
// test, connect (OAuth networks) and delete them. `#/connections?add=<type>` opens the form for a type;
// `&workflow=<id>` (from a template's setup) offers to use a new connection in that workflow.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError } from "../api/client";
import type { WorkflowSummary } from "../api/types";
import { Icon } from "../components/Icon";
import { Modal } from "../components/Modal";
import { useToast } from "../components/Toasts";
import { humanize, timeAgo } from "../lib/format";
import { navigate } from "../lib/route";
import {
  connections, STATUS_LABELS, typeLabel, type Connection, type ConnectionStatus, type ConnectionType, type SetupAnswer, type TestResult,
} from "./api";
import { ConnectionForm } from "./ConnectionForm";
import "./connections.css";

type Message = { message: string; hint?: string | null };
type FormState = { connection?: Connection; type?: string };
type Blocked = Message & { workflows: WorkflowSummary[] };

const OAUTH_WATCH_MS = 15 * 60_000; // as long as the API's sign-in link lasts
const PILL: Record<ConnectionStatus, string> = { ok: "completed", failed: "failed", needs_auth: "waiting", untested: "untested" };

function errorMessage(error: unknown): Message {
  return error instanceof ApiError ? { message: error.message, hint: error.hint } : { message: String(error) };
}

/** The workflows a 409 "connection-in-use" names ("Workflows use this connection: A, B."), matched against the
 * tenant's workflows so that they can be opened. The API gives the names only in its detail text. */
async function workflowsNamed(detail: string): Promise<WorkflowSummary[]> {
  const listed = detail.replace(/^[^:]*:\s*/, "").replace(/\.$/, "");
  const all = await api.workflows().catch(() => []);
  return all.filter((w) => `, ${listed}, `.includes(`, ${w.name}, `)).sort((a, b) => a.name.localeCompare(b.name));
}

function ConnectionItem({ connection, type, result, busy, onTest, onEdit, onDelete, onConnect }: {
  connection: Connection; type: ConnectionType | undefined; result: TestResult | undefined; busy: string;
  onTest: () => void; onEdit: () => void; onDelete: () => void; onConnect: () => void;
}) {
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

function DeleteDialog({ connection, onDeleted, onClose }: { connection: Connection; onDeleted: () => void; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  const [blocked, setBlocked] = useState<Blocked | null>(null);
  const remove = async () => {
    setBusy(true);
    try {
      await connections.remove(connection.id);
      onDeleted();
    } catch (error) {
      const message = errorMessage(error);
      const inUse = error instanceof ApiError && error.status === 409;
      setBlocked({ ...message, workflows: inUse ? await workflowsNamed(error.message) : [] });
      setBusy(false);
    }
  };
  const footer = (
    <>
      <button className="btn btn-ghost" onClick={onClose}>{blocked ? "Close" : "Cancel"}</button>
      {!blocked && <button className="btn btn-danger" onClick={remove} disabled={busy}>{busy ? "Deleting…" : "Delete"}</button>}
    </>
  );
  return (
    <Modal title={`Delete “${connection.name}”?`} onClose={onClose} footer={footer}>
      <p>Its credentials are erased from Flowyard. Steps cannot send through it any more.</p>
      {blocked && (
        <div className="callout callout-error" role="alert">
          <strong>{blocked.message}</strong>
          {blocked.hint && <p>{blocked.hint}</p>}
          {blocked.workflows.length > 0 && (
            <ul aria-label="Workflows using it" className="connection-users">
              {blocked.workflows.map((w) => <li key={w.id}><a href={`#/workflows/${w.id}`}>{w.name}</a></li>)}
            </ul>
          )}
        </div>
      )}
    </Modal>
  );
}

/** From a template's setup: offers to put a connection just added into the workflow's steps. */
function SetupBanner({ workflowId, added, types }: { workflowId: string; added: Connection | null; types: ConnectionType[] }) {
  const [workflow, setWorkflow] = useState<{ name: string } | null>(null);
  const [answer, setAnswer] = useState<SetupAnswer | null>(null);
  const [problem, setProblem] = useState<Message | null>(null);
  useEffect(() => {
    api.workflow(workflowId).then(setWorkflow).catch(() => setWorkflow(null));
  }, [workflowId]);
  useEffect(() => setAnswer(null), [added]);
  if (!workflow) return null;
  const use = async () => {
    try {
      setAnswer(await connections.useIn(workflowId, added!.type, added!.id));
      setProblem(null);
    } catch (error) {
      setProblem(errorMessage(error));
    }
  };
  const left = answer?.unbound_steps.map((s) => typeLabel(types.find((t) => t.type === s.connection_type), s.connection_type));
  return (
    <div className="callout callout-info setup-banner" role="region" aria-label="Workflow setup">
      <span>Setting up <strong>{workflow.name}</strong>.</span>
      {added && !answer && (
        <button className="btn btn-primary btn-xs" onClick={use}>Use “{added.name}” in “{workflow.name}”</button>
      )}
      {answer && (
        <span>{answer.setup_complete ? "Every step has a connection now." : `Saved. Still to connect: ${[...new Set(left)].join(", ")}.`}</span>
      )}
      {problem && <span className="field-error">{problem.message} {problem.hint}</span>}
      <a href={`#/workflows/${workflowId}`}>Open the workflow →</a>
    </div>
  );
}

export function ConnectionsPage({ add, workflowId }: { add: string | null; workflowId: string | null }) {
  const [types, setTypes] = useState<ConnectionType[] | null>(null);
  const [items, setItems] = useState<Connection[] | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [form, setForm] = useState<FormState | null>(null);
  const [deleting, setDeleting] = useState<Connection | null>(null);
  const [results, setResults] = useState<Record<string, TestResult>>({});
  const [busy, setBusy] = useState<Record<string, string>>({});
  const [added, setAdded] = useState<Connection | null>(null);
  const toast = useToast();

  const load = useCallback(() => {
    connections.list().then((list) => { setItems(list); setProblem(null); }).catch((e: Error) => setProblem(e.message));
  }, []);
  useEffect(() => {
    connections.types().then(setTypes).catch((e: Error) => setProblem(e.message));
    load();
    const visible = () => document.visibilityState === "visible" && load();
    window.addEventListener("focus", load); // back from a network's consent page, or from another tab
    document.addEventListener("visibilitychange", visible);
    return () => {
      window.removeEventListener("focus", load);
      document.removeEventListener("visibilitychange", visible);
    };
  }, [load]);
  useEffect(() => {
    if (add) setForm({ type: add });
  }, [add]);

  const typeOf = (slug: string) => types?.find((t) => t.type === slug);
  const setBusyFor = (id: string, what: string) => setBusy((b) => ({ ...b, [id]: what }));
  const replace = (fresh: Connection) => setItems((list) => list?.map((c) => (c.id === fresh.id ? fresh : c)) ?? null);

  const closeForm = () => {
    setForm(null);
    if (add) navigate(`/connections${workflowId ? `?workflow=${encodeURIComponent(workflowId)}` : ""}`);
  };

  const saved = (connection: Connection, created: boolean) => {
    closeForm();
    setResults(({ [connection.id]: _, ...rest }) => rest);
    load();
    if (created) setAdded(connection);
    const next = connection.status === "needs_auth" ? " Press Connect to sign in to the account." : " Press Test to check it.";
    toast(`${created ? "Added" : "Saved"} “${connection.name}”`, "success", next.trim());
  };

  const test = async (connection: Connection) => {
    setBusyFor(connection.id, "test");
    try {
      const result = await connections.test(connection.id);
      setResults((r) => ({ ...r, [connection.id]: result }));
      replace(await connections.read(connection.id));
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
      if (fresh) replace(fresh);
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
      const { authorize_url } = await connections.startOAuth(connection.id);
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
    setItems((list) => list?.filter((c) => c.id !== gone.id) ?? null);
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
      {items?.length === 0 && (
        <div className="empty card">
          <Icon name="plug" size={32} />
          <h2>Connect your first account</h2>
          <p className="muted">Email through SendGrid, texts through Twilio, posts on X or Mastodon: add the account once, then choose it in any step.</p>
          <button className="btn btn-primary" onClick={() => setForm({})} disabled={!types}>Add a connection</button>
        </div>
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
