// Alerts: what the workspace's rules raised (open, or resolved once the condition cleared), and the rules
// themselves, which admins and owners change (everyone else sees them).
import { useState, type FormEvent } from "react";
import { useToast } from "../components/Toasts";
import { useDates } from "../lib/dates";
import type { Alert, AlertRules, AlertStatus, Me } from "./api";
import { refusal } from "./permissions";
import { FieldProblem, ProblemNote } from "./ProblemNote";
import { useAlertRules, useAlerts, useSaveAlertRules } from "./queries";
import { Loading } from "../components/ListState";

type RuleKey = keyof AlertRules;
type Setting = { key: string; label: string; min: number; max?: number; step?: number };

/** Each rule, what it watches and its settings, in the order the form shows them. */
export const RULES: { key: RuleKey; label: string; help: string; settings: Setting[] }[] = [
  { key: "failure_rate", label: "Failure rate", help: "A workflow's live runs fail more often than this.", settings: [
    { key: "percent", label: "Failed runs above (%)", min: 0.1, max: 100, step: 0.1 },
    { key: "window_hours", label: "Over the last (hours)", min: 1, max: 24 },
    { key: "min_runs", label: "Only with at least (runs)", min: 1 },
  ] },
  { key: "slow_runs", label: "Slow runs", help: "A workflow's slowest 5% of runs take this many times longer than over the last 7 days.", settings: [
    { key: "factor", label: "Times slower", min: 1.1, max: 100, step: 0.1 },
    { key: "window_hours", label: "Over the last (hours)", min: 1, max: 24 },
    { key: "min_runs", label: "Only with at least (runs)", min: 1 },
  ] },
  { key: "queue_age", label: "Runs waiting to start", help: "A run has waited this long in the queue.", settings: [
    { key: "minutes", label: "Waiting for (minutes)", min: 1, max: 1440 },
  ] },
  { key: "integration_failing", label: "Integration failing", help: "A step calling a service failed this many times without one success.", settings: [
    { key: "failures", label: "Failures in a row", min: 2 },
    { key: "window_hours", label: "Over the last (hours)", min: 1, max: 24 },
  ] },
  { key: "missed_schedule", label: "Missed schedule", help: "A scheduled run's time came and nothing started it.", settings: [] },
];

const RULE_LABELS: Record<string, string> = Object.fromEntries(RULES.map((r) => [r.key, r.label]));

type Form = Record<RuleKey, { enabled: boolean } & Record<string, string | boolean>>;

const formOf = (rules: AlertRules): Form =>
  Object.fromEntries(RULES.map(({ key, settings }) => {
    const rule = rules[key] as Record<string, unknown>;
    return [key, { enabled: !!rule.enabled, ...Object.fromEntries(settings.map((s) => [s.key, String(rule[s.key] ?? "")])) }];
  })) as Form;

/** The form as the API takes it: numbers as numbers. */
const rulesOf = (form: Form): AlertRules =>
  Object.fromEntries(RULES.map(({ key, settings }) => [key, {
    enabled: form[key].enabled,
    ...Object.fromEntries(settings.map((s) => [s.key, Number(form[key][s.key])])),
  }])) as AlertRules;

export function AlertsSection({ me }: { me: Me | undefined }) {
  return (
    <>
      <h2>Alerts</h2>
      <AlertList />
      <h2>Rules</h2>
      <RulesPanel locked={refusal(me, "edit_workspace")} />
    </>
  );
}

function AlertItem({ alert }: { alert: Alert }) {
  const { dateTime, ago: timeAgo } = useDates();
  return (
    <li className="card settings-row alert-item" data-alert-id={alert.id} data-status={alert.status} data-rule={alert.rule}>
      <div className="settings-row-main">
        <strong>{alert.title}</strong> <span className="tag">{RULE_LABELS[alert.rule] ?? alert.rule}</span>
        <p className="muted small">{alert.detail}</p>
        <p className="muted small">
          <span title={dateTime(alert.created_at)}>Raised {timeAgo(alert.created_at)}</span>
          {alert.resolved_at && <span title={dateTime(alert.resolved_at)}> · resolved {timeAgo(alert.resolved_at)}</span>}
          {alert.workflow_id && <> · <a href={`#/runs?workflow=${alert.workflow_id}`}>Runs</a>
            {" · "}<a href={`#/dashboard?workflow=${alert.workflow_id}`}>Health</a></>}
        </p>
      </div>
    </li>
  );
}

function AlertList() {
  const [status, setStatus] = useState<AlertStatus>("open");
  const alerts = useAlerts(status);
  const items = alerts.data?.pages.flatMap((p) => p.alerts);
  return (
    <>
      <div className="status-chips" role="group" aria-label="Alert status">
        {(["open", "resolved"] as const).map((s) => (
          <button key={s} type="button" className="btn btn-chip" aria-pressed={status === s} onClick={() => setStatus(s)}>
            {s === "open" ? "Open" : "Resolved"}
          </button>
        ))}
      </div>
      <ProblemNote error={alerts.error} />
      {!items && !alerts.error && <Loading what="alerts" />}
      {items?.length === 0 && (
        <p className="muted">{status === "open" ? "No open alerts: every rule is quiet." : "No resolved alerts yet."}</p>
      )}
      <ul className="list alert-list" aria-label={status === "open" ? "Open alerts" : "Resolved alerts"}>
        {items?.map((a) => <AlertItem key={a.id} alert={a} />)}
      </ul>
      {alerts.hasNextPage && (
        <button className="btn btn-secondary" onClick={() => alerts.fetchNextPage()} disabled={alerts.isFetchingNextPage}>
          {alerts.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </>
  );
}

function RulesPanel({ locked }: { locked: string | null }) {
  const { data: rules, error } = useAlertRules();
  return (
    <>
      <ProblemNote error={error} />
      {rules && <RulesForm key={JSON.stringify(rules)} rules={rules} locked={locked} />}
    </>
  );
}

function RulesForm({ rules, locked }: { rules: AlertRules; locked: string | null }) {
  const save = useSaveAlertRules();
  const toast = useToast();
  const [form, setForm] = useState<Form>(() => formOf(rules));
  const set = (rule: RuleKey, key: string, value: string | boolean) =>
    setForm((f) => ({ ...f, [rule]: { ...f[rule], [key]: value } }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate(rulesOf(form), { onSuccess: () => toast("Alert rules saved", "success") });
  };
  const paths = RULES.flatMap((r) => r.settings.map((s) => `${r.key}.${s.key}`));
  return (
    <form className="card settings-form" onSubmit={submit} aria-label="Alert rules">
      <p className="muted">Owners and admins are told when an alert is raised and when it is resolved: in their
        notifications, and by email through the SendGrid connection marked for alerts.</p>
      {RULES.map(({ key, label, help, settings }) => (
        <fieldset key={key} className="alert-rule" data-rule={key} aria-label={label}>
          <legend>{label}</legend>
          <label className="settings-check">
            <input type="checkbox" checked={form[key].enabled} disabled={!!locked}
              onChange={(e) => set(key, "enabled", e.target.checked)} />
            On: {help}
          </label>
          {settings.length > 0 && (
            <div className="alert-rule-settings">
              {settings.map((s) => (
                <label key={s.key}>{s.label}
                  <input type="number" required min={s.min} max={s.max} step={s.step ?? 1} value={String(form[key][s.key])}
                    disabled={!!locked || !form[key].enabled} onChange={(e) => set(key, s.key, e.target.value)} />
                  <FieldProblem error={save.error} path={`${key}.${s.key}`} />
                </label>
              ))}
            </div>
          )}
        </fieldset>
      ))}
      <ProblemNote error={save.error} fields={paths} />
      <div className="row">
        <button className="btn btn-primary" disabled={!!locked || save.isPending} title={locked ?? undefined}>
          {save.isPending ? "Saving…" : "Save the rules"}
        </button>
        {locked && <span className="muted small">{locked}</span>}
      </div>
    </form>
  );
}
