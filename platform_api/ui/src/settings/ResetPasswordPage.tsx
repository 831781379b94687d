// Forgotten passwords: `#/reset-password` asks for the email (the answer is the same whether or not an account
// has it); the emailed (or logged) link opens `#/reset-password/<token>`, where the new password is set.
import { useState, type FormEvent } from "react";
import { settingsApi } from "./api";
import { FieldProblem, ProblemNote } from "./ProblemNote";

export function ResetPasswordPage({ token }: { token: string | undefined }) {
  const [value, setValue] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (token) {
        await settingsApi.confirmReset(token, value);
        setDone("Your password is changed. Sign in with it.");
      } else {
        setDone((await settingsApi.requestReset(value.trim())).detail);
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="auth">
      <form className="auth-card" onSubmit={submit} aria-label="Reset your password">
        <div className="brand brand-large"><span className="brand-mark" />Flowyard</div>
        <h1>{token ? "Choose a new password" : "Reset your password"}</h1>
        {done ? (
          <div className="callout callout-ok" role="status">{done}</div>
        ) : (
          <>
            <p className="muted">{token ? "Your other sessions end when it is changed." : "We will send a reset link to your email."}</p>
            <label>{token ? "New password" : "Work email"}
              <input required type={token ? "password" : "email"} minLength={token ? 10 : undefined} value={value}
                onChange={(e) => setValue(e.target.value)} autoComplete={token ? "new-password" : "email"} />
              {token && <span className="help">At least 10 characters.</span>}
              <FieldProblem error={error} path={token ? "password" : "email"} />
            </label>
            <ProblemNote error={error} fields={["password", "email"]} />
            <button className="btn btn-primary btn-block" disabled={busy}>
              {busy ? "One moment…" : token ? "Set password" : "Send reset link"}
            </button>
          </>
        )}
        <p className="auth-switch"><a href="#/login">Back to sign in</a></p>
      </form>
    </main>
  );
}
