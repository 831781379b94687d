// The page an invitation link opens: a new person picks a name and password; someone who already has a
// Flowyard account joins with their login instead. Either way they end up signed in to the new workspace.
import { useState, type FormEvent } from "react";
import { api, saveSession } from "../api/client";
import type { Session } from "../api/types";
import { navigate } from "../lib/route";
import { settingsApi } from "./api";
import { FieldProblem, ProblemNote } from "./ProblemNote";

type Props = { invitation: string; session: Session | null; onSignedIn: (s: Session) => void };

export function AcceptInvitePage({ invitation, session, onSignedIn }: Props) {
  const [mode, setMode] = useState<"new" | "existing">("new");
  const [form, setForm] = useState({ name: "", email: "", password: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  const join = async (accept: () => Promise<{ token: string }>) => {
    setBusy(true);
    setError(null);
    try {
      const { token } = await accept();
      const me = await settingsApi.me(token);
      const next = { token, tenant: me.tenant, email: me.user.email };
      saveSession(next);
      onSignedIn(next);
      navigate("/");
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mode === "new") void join(() => settingsApi.accept(invitation, { name: form.name.trim(), password: form.password }));
    else void join(async () => settingsApi.accept(invitation, {}, (await api.login(form.email, form.password)).token));
  };

  return (
    <main className="auth">
      <form className="auth-card" onSubmit={submit} aria-label="Accept the invitation">
        <div className="brand brand-large"><span className="brand-mark" />Flowyard</div>
        <h1>Join the workspace</h1>
        {session ? (
          <>
            <p className="muted">You are signed in as {session.email}.</p>
            <ProblemNote error={error} />
            <button type="button" className="btn btn-primary btn-block" disabled={busy}
              onClick={() => join(() => settingsApi.accept(invitation, {}))}>{busy ? "Joining…" : `Join as ${session.email}`}</button>
          </>
        ) : (
          <>
            <p className="muted">{mode === "new" ? "Choose your name and a password to accept the invitation." : "Sign in with your Flowyard account to join."}</p>
            {mode === "new" ? (
              <label>Your name
                <input required value={form.name} onChange={set("name")} autoComplete="name" />
                <FieldProblem error={error} path="name" />
              </label>
            ) : (
              <label>Email
                <input required type="email" value={form.email} onChange={set("email")} autoComplete="email" />
                <FieldProblem error={error} path="email" />
              </label>
            )}
            <label>Password
              <input required type="password" minLength={mode === "new" ? 10 : undefined} value={form.password} onChange={set("password")}
                autoComplete={mode === "new" ? "new-password" : "current-password"} />
              {mode === "new" && <span className="help">At least 10 characters.</span>}
              <FieldProblem error={error} path="password" />
            </label>
            <ProblemNote error={error} fields={["name", "email", "password"]} />
            <button className="btn btn-primary btn-block" disabled={busy}>{busy ? "One moment…" : mode === "new" ? "Join" : "Sign in and join"}</button>
            <p className="auth-switch">
              {mode === "new"
                ? <>Already have a Flowyard account? <button type="button" className="btn-link" onClick={() => setMode("existing")}>Join with it</button></>
                : <>New to Flowyard? <button type="button" className="btn-link" onClick={() => setMode("new")}>Create your login</button></>}
            </p>
          </>
        )}
      </form>
    </main>
  );
}
