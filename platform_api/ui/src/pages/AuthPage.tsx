// Sign in and create an account.
import { useState, type FormEvent } from "react";
import { api, ApiError, saveSession } from "../api/client";
import type { Session } from "../api/types";
import { navigate } from "../lib/route";

type Mode = "login" | "signup";

export function AuthPage({ mode, onSignedIn }: { mode: Mode; onSignedIn: (s: Session) => void }) {
  const [form, setForm] = useState({ workspace: "", email: "", password: "" });
  const [problem, setProblem] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const answer = mode === "signup"
        ? await api.signup(form.workspace, form.email, form.password)
        : await api.login(form.email, form.password);
      const session = { token: answer.token, tenant: answer.tenant, email: form.email };
      saveSession(session);
      onSignedIn(session);
      navigate("/");
    } catch (error) {
      setProblem(error instanceof ApiError ? error : new ApiError(0, "", String(error)));
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (path: string) => problem?.errors.find((e) => e.path === path)?.message;
  return (
    <main className="auth">
      <form className="auth-card" onSubmit={submit}>
        <div className="brand brand-large"><span className="brand-mark" />Flowyard</div>
        <h1>{mode === "signup" ? "Create your workspace" : "Welcome back"}</h1>
        <p className="muted">{mode === "signup" ? "Automate your leads, emails and follow-ups without code." : "Sign in to your workflows."}</p>
        {mode === "signup" && (
          <label>Company or team name
            <input required value={form.workspace} onChange={set("workspace")} autoComplete="organization" />
            {fieldError("tenant_name") && <span className="field-error">{fieldError("tenant_name")}</span>}
          </label>
        )}
        <label>Work email
          <input required type="email" value={form.email} onChange={set("email")} autoComplete="email" />
          {fieldError("email") && <span className="field-error">{fieldError("email")}</span>}
        </label>
        <label>Password
          <input required type="password" minLength={mode === "signup" ? 10 : undefined} value={form.password}
            onChange={set("password")} autoComplete={mode === "signup" ? "new-password" : "current-password"} />
          {mode === "signup" && <span className="help">At least 10 characters.</span>}
          {fieldError("password") && <span className="field-error">{fieldError("password")}</span>}
        </label>
        {mode === "login" && <a className="small" href="#/reset-password">Forgot your password?</a>}
        {problem && (
          <div className="callout callout-error" role="alert">
            <strong>{problem.message}</strong>
            {problem.hint && <p>{problem.hint}</p>}
          </div>
        )}
        <button className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "One moment…" : mode === "signup" ? "Create workspace" : "Sign in"}
        </button>
        <p className="auth-switch">
          {mode === "signup"
            ? <>Already have an account? <a href="#/login">Sign in</a></>
            : <>New to Flowyard? <a href="#/signup">Create a workspace</a></>}
        </p>
      </form>
    </main>
  );
}
