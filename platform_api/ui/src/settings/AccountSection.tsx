// The signed-in user's account: change the password (which ends their other sessions), see and end sessions,
// and sign out (the token is revoked on the server, not only forgotten here).
import { useState, type FormEvent } from "react";
import type { Session } from "../api/types";
import { useToast } from "../components/Toasts";
import { useDates } from "../lib/dates";
import { settingsApi } from "./api";
import { FieldProblem, ProblemNote } from "./ProblemNote";
import { useEndSession, useSessions } from "./queries";

export function AccountSection({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  return (
    <>
      <h2>Your account</h2>
      <p className="muted">Signed in as <strong>{session.email}</strong>.</p>
      <PasswordForm />
      <Sessions />
      <SignOut onSignOut={onSignOut} />
    </>
  );
}

function PasswordForm() {
  const [form, setForm] = useState({ current: "", next: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await settingsApi.changePassword(form.current, form.next);
      setForm({ current: "", next: "" });
      toast("Password changed", "success", "Your other sessions were signed out.");
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card settings-form" onSubmit={submit} aria-label="Change password">
      <h3>Password</h3>
      <div className="settings-inline">
        <label>Current password
          <input type="password" required autoComplete="current-password" value={form.current}
            onChange={(e) => setForm({ ...form, current: e.target.value })} />
          <FieldProblem error={error} path="current" />
        </label>
        <label>New password
          <input type="password" required minLength={10} autoComplete="new-password" value={form.next}
            onChange={(e) => setForm({ ...form, next: e.target.value })} />
          <span className="help">At least 10 characters.</span>
          <FieldProblem error={error} path="new" />
        </label>
        <button className="btn btn-primary" disabled={busy}>{busy ? "Saving…" : "Change password"}</button>
      </div>
      <ProblemNote error={error} fields={["current", "new"]} />
    </form>
  );
}

function Sessions() {
  const { dateTime, ago: timeAgo } = useDates();
  const { data: sessions, error } = useSessions();
  const end = useEndSession();
  return (
    <div className="card settings-form" aria-label="Sessions">
      <h3>Sessions</h3>
      <ProblemNote error={error ?? end.error} />
      <ul className="list" aria-label="Your sessions">
        {sessions?.map((s) => (
          <li key={s.id} className="settings-row">
            <div className="settings-row-main">
              <strong>{s.tenant.name}</strong>{s.current && <span className="tag tag-live">this browser</span>}
              <div className="muted small">
                Signed in {timeAgo(s.created_at)} · ends {dateTime(s.expires_at)}
                {s.client_address && <> · from {s.client_address}</>}
              </div>
            </div>
            {!s.current && <button className="btn btn-ghost btn-xs" onClick={() => end.mutate(s.id)} disabled={end.isPending}>End</button>}
          </li>
        ))}
      </ul>
    </div>
  );
}

function SignOut({ onSignOut }: { onSignOut: () => void }) {
  const [busy, setBusy] = useState(false);
  const signOut = async () => {
    setBusy(true);
    await settingsApi.logout().catch(() => undefined); // signed out here whatever the server says
    onSignOut();
  };
  return (
    <div className="row settings-signout">
      <button className="btn btn-secondary" onClick={signOut} disabled={busy}>{busy ? "Signing out…" : "Sign out"}</button>
      <span className="muted small">Ends this session on the server too.</span>
    </div>
  );
}
