// How the new workflow starts: as the template says, or by a webhook, on a schedule or by hand, with the
// main settings of each. Sent as the instantiate call's trigger_overrides.
import type { Instantiate } from "./api";

export type TriggerKind = "template" | "trigger.webhook" | "trigger.schedule" | "trigger.manual";

export type TriggerForm = {
  kind: TriggerKind;
  auth: "hmac" | "twilio" | "stripe" | "bearer";
  repeat: "cron" | "interval";
  cron: string;
  interval: string;
  timezone: string;
};

export const INITIAL_TRIGGER: TriggerForm = {
  kind: "template", auth: "hmac", repeat: "cron", cron: "0 9 * * 1-5", interval: "60", timezone: "",
};

const KINDS: [Exclude<TriggerKind, "template">, string, string][] = [
  ["trigger.webhook", "Webhook", "Another app sends a signed request to a URL shown when you publish."],
  ["trigger.schedule", "Schedule", "At set times, or every so many minutes."],
  ["trigger.manual", "By hand", "You start it from the builder or the API."],
];

const AUTH: [TriggerForm["auth"], string][] = [
  ["hmac", "Flowyard signature (HMAC)"], ["twilio", "Twilio signature"], ["stripe", "Stripe signature"], ["bearer", "Bearer token"],
];

/** The trigger_overrides for the form; undefined keeps the template's trigger. */
export function triggerOverrides(form: TriggerForm): Instantiate["trigger_overrides"] {
  if (form.kind === "template") return undefined;
  if (form.kind === "trigger.webhook") return { type: form.kind, config: { auth: form.auth } };
  if (form.kind === "trigger.manual") return { type: form.kind };
  const timezone = form.timezone.trim() || null;
  const schedule = form.repeat === "cron"
    ? { cron: form.cron.trim(), timezone }
    : { interval_minutes: form.interval === "" ? null : Number(form.interval), timezone };
  return { type: form.kind, config: { schedules: [schedule] } };
}

type Props = { template: { type: string; description: string } | null; value: TriggerForm; onChange: (form: TriggerForm) => void; error?: string };

export function TriggerChoice({ template, value, onChange, error }: Props) {
  const set = (change: Partial<TriggerForm>) => onChange({ ...value, ...change });
  return (
    <fieldset className="template-trigger" aria-describedby={error ? "trigger-error" : undefined}>
      <legend>How it starts</legend>
      <label className="template-trigger-option">
        <input type="radio" name="trigger-kind" checked={value.kind === "template"} onChange={() => set({ kind: "template" })} />
        <span>As the template says{template ? <span className="muted small"> — {template.description}</span> : null}</span>
      </label>
      {KINDS.map(([kind, label, help]) => (
        <label key={kind} className="template-trigger-option">
          <input type="radio" name="trigger-kind" checked={value.kind === kind} onChange={() => set({ kind })} />
          <span>{label} <span className="muted small">— {help}</span></span>
        </label>
      ))}
      {value.kind === "trigger.webhook" && (
        <div className="field">
          <label htmlFor="trigger-auth">How deliveries prove they are yours</label>
          <select id="trigger-auth" value={value.auth} onChange={(e) => set({ auth: e.target.value as TriggerForm["auth"] })}>
            {AUTH.map(([auth, label]) => <option key={auth} value={auth}>{label}</option>)}
          </select>
        </div>
      )}
      {value.kind === "trigger.schedule" && (
        <>
          <div className="field">
            <label htmlFor="trigger-repeat">Repeat</label>
            <select id="trigger-repeat" value={value.repeat} onChange={(e) => set({ repeat: e.target.value as TriggerForm["repeat"] })}>
              <option value="cron">At set times (cron)</option>
              <option value="interval">Every so many minutes</option>
            </select>
          </div>
          {value.repeat === "cron" ? (
            <div className="field">
              <label htmlFor="trigger-cron">Cron expression</label>
              <input id="trigger-cron" value={value.cron} onChange={(e) => set({ cron: e.target.value })} aria-describedby="trigger-cron-help" />
              <div className="muted small" id="trigger-cron-help">e.g. 0 9 * * 1-5: 09:00 on weekdays.</div>
            </div>
          ) : (
            <div className="field">
              <label htmlFor="trigger-interval">Every (minutes)</label>
              <input id="trigger-interval" type="number" min={1} step={1} value={value.interval} onChange={(e) => set({ interval: e.target.value })} />
            </div>
          )}
          <div className="field">
            <label htmlFor="trigger-timezone">Time zone</label>
            <input id="trigger-timezone" value={value.timezone} placeholder="Your workspace's" onChange={(e) => set({ timezone: e.target.value })} aria-describedby="trigger-timezone-help" />
            <div className="muted small" id="trigger-timezone-help">An IANA name such as Europe/Paris; empty: your workspace's time zone.</div>
          </div>
        </>
      )}
      {error && <div className="field-error" id="trigger-error" role="alert">{error}</div>}
    </fieldset>
  );
}
