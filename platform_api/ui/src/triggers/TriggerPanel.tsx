// The editor's "Trigger" tab of a trigger step: how the outside world starts this workflow.
// - Webhook: the URL (copy), the auth scheme, sample signing code (curl, Python, Node) from the real scheme, the
//   latest deliveries with their runs, a test delivery, and rotating the secret (shown once, in SecretDialog).
// - Schedule: a cron builder and interval picker with a time zone, the next 10 fire times with daylight-saving
//   notes, pause and resume.
// - Data change and event: what fires it, with a sample of what the workflow receives.
import { useId, useState } from "react";
import { ApiError } from "../api/client";
import { JsonView } from "../components/JsonView";
import { Modal } from "../components/Modal";
import { StatusPill } from "../components/StatusPill";
import { useDates } from "../lib/dates";
import { useMe } from "../settings/queries";
import {
  forgetSecret, useDeliveries, usePauseSchedule, useRotateSecret, useSchedulePreview, useShownSecret, useTestDelivery, useWebhook,
} from "./api";
import { LANGUAGES, SCHEME_TEXT, SECRET_ENV, eventCurl, sampleCode, type AuthScheme, type Language } from "./samples";
import {
  REPEATS, WEEKDAYS, builderOf, describe, dstNotes, localTime, specOf, timeZones, type Builder, type ScheduleSpec,
} from "./schedule";
import "./triggers.css";

export type TriggerWorkflow = { id: string; version: number; published_version?: number | null };

type Props = {
  workflow: TriggerWorkflow;
  type: string;
  config: Record<string, unknown>;
  sampleOutput: unknown;
  readOnly: boolean;
  onConfig: (config: Record<string, unknown>) => void;
};

/** Whether a trigger type has a Trigger tab. */
export const hasTriggerPanel = (type: string) =>
  ["trigger.webhook", "trigger.schedule", "trigger.data_change", "trigger.event"].includes(type);

export function TriggerPanel({ workflow, type, config, sampleOutput, readOnly, onConfig }: Props) {
  if (type === "trigger.webhook") return <WebhookPanel workflow={workflow} config={config} />;
  if (type === "trigger.schedule") return <SchedulePanel workflow={workflow} config={config} readOnly={readOnly} onConfig={onConfig} />;
  if (type === "trigger.data_change") return <DataChangePanel workflow={workflow} config={config} sampleOutput={sampleOutput} />;
  if (type === "trigger.event") return <EventPanel workflow={workflow} config={config} />;
  return null;
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    return done;
  }
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<"" | "copied" | "failed">("");
  const copy = async () => {
    setState((await copyText(text)) ? "copied" : "failed");
    setTimeout(() => setState(""), 2500);
  };
  return (
    <>
      <button type="button" className="btn btn-secondary btn-xs" onClick={copy}>{label}</button>
      <span role="status" className="copy-state small">{state === "copied" ? "Copied" : state === "failed" ? "Select it and copy" : ""}</span>
    </>
  );
}

function NotLive({ what }: { what: string }) {
  return <div className="callout callout-warn" data-testid="trigger-not-live">Not live yet: publish the workflow to {what}.</div>;
}

const errorText = (error: unknown) => (error instanceof ApiError ? error.message : String(error));

// --- webhook -----------------------------------------------------------------------------------

function WebhookPanel({ workflow, config }: { workflow: TriggerWorkflow; config: Record<string, unknown> }) {
  const { ago: timeAgo } = useDates();
  const live = !!workflow.published_version;
  const webhook = useWebhook(workflow.id, live);
  const permissions = useMe().data?.permissions ?? [];
  const auth = (config.auth as AuthScheme | undefined) ?? "hmac";
  const sample = (config.sample as Record<string, unknown> | undefined) ?? {};
  const deliveryIdHeader = (config.delivery_id_header as string | undefined) ?? "X-Delivery-Id";
  const [language, setLanguage] = useState<Language>("python");
  const [rotating, setRotating] = useState(false);
  const urlId = useId();
  if (!live) return <NotLive what="get its webhook URL and secret" />;
  if (webhook.isPending) return <p className="muted">Loading the webhook…</p>;
  if (webhook.error) return <div className="callout callout-error" role="alert">{errorText(webhook.error)}</div>;
  const url = webhook.data.url;
  return (
    <div className="trigger-panel">
      <section>
        <h3><label htmlFor={urlId}>Webhook URL</label></h3>
        <div className="copy-row">
          <input id={urlId} readOnly value={url} data-testid="webhook-url" onFocus={(e) => e.target.select()} />
          <CopyButton text={url} label="Copy URL" />
        </div>
        <p className="help">{webhook.data.enabled ? "Live: deliveries start the published version." : "Disabled: the live version has another trigger."}
          {" "}Secret {webhook.data.rotated_at ? `rotated ${timeAgo(webhook.data.rotated_at)}` : `created ${timeAgo(webhook.data.created_at)}`}.
          {" "}The secret was shown once, when it was made; lost it, or published through an approval? Rotate it to get a new one.</p>
        <button type="button" className="btn btn-secondary btn-xs" onClick={() => setRotating(true)}
          disabled={!permissions.includes("create_edit")} title={permissions.includes("create_edit") ? undefined : "Editors and above rotate secrets"}>
          Rotate secret…
        </button>
      </section>

      <section>
        <h3>Authentication</h3>
        <p className="help" data-testid="auth-scheme"><strong>{auth}</strong>: {SCHEME_TEXT[auth]}</p>
      </section>

      <section>
        <h3>Send a delivery</h3>
        <p className="help">Set <code>{SECRET_ENV}</code> to the secret, then run:</p>
        <div className="tabs code-tabs" role="tablist" aria-label="Sample code language">
          {LANGUAGES.map((option) => (
            <button key={option.value} type="button" role="tab" aria-selected={language === option.value}
              onClick={() => setLanguage(option.value)}>{option.label}</button>
          ))}
        </div>
        <pre className="sample-code" data-testid="sample-code" data-language={language} tabIndex={0} aria-label={`Sample code in ${language}`}>
          {sampleCode(language, { url, auth, sample, deliveryIdHeader })}
        </pre>
        <CopyButton text={sampleCode(language, { url, auth, sample, deliveryIdHeader })} label="Copy code" />
      </section>

      <Deliveries workflowId={workflow.id} canSend={permissions.includes("run")} />
      {rotating && <RotateDialog workflowId={workflow.id} onClose={() => setRotating(false)} />}
    </div>
  );
}

function Deliveries({ workflowId, canSend }: { workflowId: string; canSend: boolean }) {
  const { dateTime, ago: timeAgo } = useDates();
  const deliveries = useDeliveries(workflowId, true);
  const send = useTestDelivery(workflowId);
  return (
    <section aria-labelledby="deliveries-h">
      <div className="section-head">
        <h3 id="deliveries-h">Last deliveries</h3>
        <button type="button" className="btn btn-secondary btn-xs" onClick={() => send.mutate()} disabled={!canSend || send.isPending}
          title={canSend ? "Sends the trigger's sample, signed with the secret: it starts a real run" : "Operators and above send test deliveries"}>
          {send.isPending ? "Sending…" : "Send test delivery"}
        </button>
      </div>
      {send.error && <div className="callout callout-error" role="alert">{errorText(send.error)}</div>}
      {send.data && <p className="help" role="status">Test delivery sent: <a href={`#/runs/${send.data.run_id}`}>its run</a>.</p>}
      {deliveries.isPending ? <p className="muted">Loading…</p>
        : !deliveries.data?.length ? <p className="muted" data-testid="no-deliveries">No deliveries yet.</p> : (
          <table className="deliveries" aria-label="Last deliveries" data-testid="deliveries">
            <thead><tr><th scope="col">Status</th><th scope="col">Received</th><th scope="col">Delivery id</th><th scope="col">Run</th></tr></thead>
            <tbody>
              {deliveries.data.map((delivery) => (
                <tr key={delivery.run_id} data-run-id={delivery.run_id}>
                  <td><StatusPill status={delivery.status} /></td>
                  <td title={dateTime(delivery.received_at)}>{timeAgo(delivery.received_at)}</td>
                  <td><code>{delivery.delivery_id ?? "—"}</code></td>
                  <td><a href={`#/runs/${delivery.run_id}`} aria-label={`Run ${delivery.run_id}`}>{delivery.run_id.slice(0, 8)}</a></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </section>
  );
}

function RotateDialog({ workflowId, onClose }: { workflowId: string; onClose: () => void }) {
  const rotate = useRotateSecret(workflowId);
  const [own, setOwn] = useState("");
  const id = useId();
  const confirm = () => rotate.mutate(own.trim() || null, { onSuccess: onClose });
  return (
    <Modal title="Rotate the webhook secret" onClose={onClose} footer={(
      <>
        <button type="button" className="btn btn-secondary" onClick={onClose}>Cancel</button>
        <button type="button" className="btn btn-primary" onClick={confirm} disabled={rotate.isPending}>
          {rotate.isPending ? "Rotating…" : "Rotate now"}
        </button>
      </>
    )}>
      <p>Deliveries signed with the old secret are refused from now on. The new secret is shown once.</p>
      <div className="field">
        <label htmlFor={id}>Your own secret (optional)</label>
        <input id={id} value={own} onChange={(e) => setOwn(e.target.value)} autoComplete="off" placeholder="Leave empty for a new random one" />
        <p className="help">Stripe's signing secret (whsec_…) or Twilio's auth token, at least 16 characters.</p>
      </div>
      {rotate.error && <div className="callout callout-error" role="alert">{errorText(rotate.error)}</div>}
    </Modal>
  );
}

const WHY = {
  published: "Publishing created this workflow's webhook.",
  rotated: "The secret was rotated.",
  approved: "Your approval created this workflow's webhook, so you are the only one shown its secret. Hand it to the sender "
    + "through your password manager, never by chat or email; the requester was told they can rotate it for one of their own.",
};

/** The secret the API showed once (first publish, rotation, an approval): copy it now, it is not shown again. */
export function SecretDialog({ workflowId }: { workflowId: string }) {
  const shown = useShownSecret(workflowId);
  const webhook = useWebhook(workflowId, !!shown && !shown.url);
  const id = useId();
  if (!shown) return null;
  const url = shown.url ?? webhook.data?.url;
  const close = () => forgetSecret(workflowId);
  return (
    <Modal title="Copy your webhook secret now" onClose={close} footer={(
      <button type="button" className="btn btn-primary" onClick={close}>I have copied it</button>
    )}>
      <div className="callout callout-warn">
        <strong>Copy it now: it is shown only this once.</strong>
        <p>{WHY[shown.why]} Flowyard keeps it
          encrypted and cannot show it again; if you lose it, rotate it.</p>
      </div>
      {url && (
        <div className="field">
          <label htmlFor={`${id}-url`}>Webhook URL</label>
          <div className="copy-row"><input id={`${id}-url`} readOnly value={url} /><CopyButton text={url} label="Copy URL" /></div>
        </div>
      )}
      <div className="field">
        <label htmlFor={id}>Secret</label>
        <div className="copy-row">
          <input id={id} readOnly value={shown.secret} data-testid="webhook-secret" onFocus={(e) => e.target.select()} />
          <CopyButton text={shown.secret} label="Copy secret" />
        </div>
        <p className="help">Senders sign each delivery with it (see the webhook step's Trigger tab for sample code).</p>
      </div>
    </Modal>
  );
}

// --- schedule ----------------------------------------------------------------------------------

type SchedulePanelProps = { workflow: TriggerWorkflow; config: Record<string, unknown>; readOnly: boolean; onConfig: Props["onConfig"] };

function SchedulePanel({ workflow, config, readOnly, onConfig }: SchedulePanelProps) {
  const schedules = (config.schedules as ScheduleSpec[] | undefined) ?? [];
  const version = workflow.published_version ?? workflow.version;
  const preview = useSchedulePreview(workflow.id, version);
  const pause = usePauseSchedule(workflow.id);
  const permissions = useMe().data?.permissions ?? [];
  const zone = preview.data?.time_zone ?? "UTC";
  const notes = dstNotes(preview.data?.fires ?? []);
  const paused = preview.data?.paused ?? false;
  return (
    <div className="trigger-panel">
      <section aria-labelledby="schedule-state-h">
        <div className="section-head">
          <h3 id="schedule-state-h">Schedule</h3>
          <span className={`pill ${paused ? "pill-cancelled" : "pill-completed"}`} data-testid="schedule-state">{paused ? "Paused" : "Active"}</span>
        </div>
        {schedules.length > 0 && (
          <ul className="plain-list">{schedules.map((spec, index) => <li key={index}>{describe(spec, zone)}</li>)}</ul>
        )}
        {!workflow.published_version && <NotLive what="start its schedule" />}
        <button type="button" className="btn btn-secondary btn-xs" disabled={!permissions.includes("run") || pause.isPending || !preview.data}
          title={permissions.includes("run") ? undefined : "Operators and above pause schedules"}
          onClick={() => pause.mutate(paused ? "resume" : "pause")}>
          {pause.isPending ? "Saving…" : paused ? "Resume schedule" : "Pause schedule"}
        </button>
        {pause.error && <div className="callout callout-error" role="alert">{errorText(pause.error)}</div>}
      </section>

      {!readOnly && <CronBuilder schedules={schedules} workspaceZone={zone} onApply={(next) => onConfig({ ...config, schedules: next })} />}

      <section aria-labelledby="fires-h">
        <h3 id="fires-h">Next 10 runs</h3>
        <p className="help">Of {workflow.published_version ? `the live version ${workflow.published_version}` : `saved version ${workflow.version}`}
          {workflow.published_version ? "; publish to preview your changes" : "; save to preview your changes"}.</p>
        {preview.isPending ? <p className="muted">Loading…</p>
          : preview.error ? <div className="callout callout-error" role="alert">{errorText(preview.error)}</div> : (
            <ol className="fires" aria-label="Next 10 runs" data-testid="fires">
              {preview.data.fires.map((fire, index) => (
                <li key={`${fire.utc}-${index}`} data-utc={fire.utc}>
                  <span>{localTime(fire)}</span> <span className="muted small">{fire.time_zone} · {fire.utc.slice(0, 16).replace("T", " ")} UTC</span>
                  {notes[index] && <div className="dst-note" data-testid="dst-note">{notes[index]}</div>}
                </li>
              ))}
            </ol>
          )}
        <p className="help">Daylight saving: a local time that does not exist when clocks go forward runs one hour later by the clock;
          a local time that happens twice when clocks go back runs once, the first time.</p>
      </section>
    </div>
  );
}

function CronBuilder({ schedules, workspaceZone, onApply }: { schedules: ScheduleSpec[]; workspaceZone: string; onApply: (next: ScheduleSpec[]) => void }) {
  const [target, setTarget] = useState(0); // the schedule replaced; schedules.length: added as a new one
  const [builder, setBuilder] = useState<Builder>(() => builderOf(schedules[0]));
  const id = useId();
  const set = (patch: Partial<Builder>) => setBuilder((current) => ({ ...current, ...patch }));
  const pick = (index: number) => {
    setTarget(index);
    setBuilder(builderOf(schedules[index]));
  };
  const spec = specOf(builder);
  const apply = () => {
    const next = [...schedules];
    next[target] = spec;
    onApply(next);
  };
  const zones = timeZones();
  return (
    <section aria-labelledby={`${id}-h`} className="cron-builder">
      <h3 id={`${id}-h`}>Build a schedule</h3>
      {schedules.length > 0 ? (
        <div className="field">
          <label htmlFor={`${id}-target`}>Change</label>
          <select id={`${id}-target`} value={target} onChange={(e) => pick(Number(e.target.value))}>
            {schedules.map((_, index) => <option key={index} value={index}>Schedule {index + 1}</option>)}
            {schedules.length < 10 && <option value={schedules.length}>A new schedule</option>}
          </select>
        </div>
      ) : null}
      <div className="field">
        <label htmlFor={`${id}-repeat`}>Repeat</label>
        <select id={`${id}-repeat`} value={builder.repeat} onChange={(e) => set({ repeat: e.target.value as Builder["repeat"] })}>
          {REPEATS.map((option) => <option key={option.value} value={option.value}>{option.label}</option>)}
        </select>
      </div>
      {builder.repeat === "interval" && (
        <div className="field">
          <label htmlFor={`${id}-every`}>Every (minutes)</label>
          <input id={`${id}-every`} type="number" min={1} value={builder.every} onChange={(e) => set({ every: Number(e.target.value) })} />
        </div>
      )}
      {builder.repeat === "hourly" && (
        <div className="field">
          <label htmlFor={`${id}-minute`}>Minutes past the hour</label>
          <input id={`${id}-minute`} type="number" min={0} max={59} value={builder.minute} onChange={(e) => set({ minute: Number(e.target.value) })} />
        </div>
      )}
      {builder.repeat === "weekly" && (
        <div className="field">
          <label htmlFor={`${id}-weekday`}>Day of the week</label>
          <select id={`${id}-weekday`} value={builder.weekday} onChange={(e) => set({ weekday: Number(e.target.value) })}>
            {WEEKDAYS.map((day, index) => <option key={day} value={index}>{day}</option>)}
          </select>
        </div>
      )}
      {builder.repeat === "monthly" && (
        <div className="field">
          <label htmlFor={`${id}-day`}>Day of the month</label>
          <input id={`${id}-day`} type="number" min={1} max={28} value={builder.day} onChange={(e) => set({ day: Number(e.target.value) })} />
          <p className="help">1 to 28, so that it happens every month.</p>
        </div>
      )}
      {["daily", "weekdays", "weekly", "monthly"].includes(builder.repeat) && (
        <div className="field">
          <label htmlFor={`${id}-time`}>At</label>
          <input id={`${id}-time`} type="time" value={builder.time} onChange={(e) => set({ time: e.target.value })} />
        </div>
      )}
      {builder.repeat === "custom" && (
        <div className="field">
          <label htmlFor={`${id}-cron`}>Cron expression</label>
          <input id={`${id}-cron`} value={builder.cron} onChange={(e) => set({ cron: e.target.value })} placeholder="30 9 * * 1-5" />
          <p className="help">Five fields: minute hour day-of-month month day-of-week.</p>
        </div>
      )}
      <div className="field">
        <label htmlFor={`${id}-zone`}>Time zone</label>
        <select id={`${id}-zone`} value={builder.timezone} onChange={(e) => set({ timezone: e.target.value })}>
          <option value="">The workspace's ({workspaceZone})</option>
          {builder.timezone && !zones.includes(builder.timezone) && <option value={builder.timezone}>{builder.timezone}</option>}
          {zones.map((zone) => <option key={zone} value={zone}>{zone}</option>)}
        </select>
      </div>
      <p className="help" data-testid="built-schedule">{describe(spec, workspaceZone)}{spec.cron ? <> · <code>{spec.cron}</code></> : null}</p>
      <button type="button" className="btn btn-secondary btn-xs" onClick={apply}>Use this schedule</button>
    </section>
  );
}

// --- data change and event ---------------------------------------------------------------------

function DataChangePanel({ workflow, config, sampleOutput }: { workflow: TriggerWorkflow; config: Record<string, unknown>; sampleOutput: unknown }) {
  const record = (config.record_type as string | undefined) ?? "record";
  const event = config.event as string | undefined;
  const what = event === "field_changed"
    ? `its ${config.field ? `“${String(config.field)}”` : "chosen"} field changes${config.to !== undefined && config.to !== null ? ` to ${JSON.stringify(config.to)}` : ""}`
    : event ? `it is ${event}` : "it changes";
  const sample = config.sample && Object.keys(config.sample as object).length ? config.sample : sampleOutput;
  return (
    <div className="trigger-panel">
      {!workflow.published_version && <NotLive what="start it on CRM changes" />}
      <section>
        <h3>What starts it</h3>
        <p data-testid="fires-when">A run starts each time a CRM <strong>{record}</strong> is saved and {what}
          {config.filter ? <>, when <code>{String(config.filter)}</code> holds</> : null}: once per change.</p>
        <p className="help">Changes made in the CRM screens, through the API (<code>/api/v1/crm/…</code>) and by workflows' CRM steps
          all count. Changes made by test runs are test data and start nothing.</p>
      </section>
      <section>
        <h3>What the workflow receives</h3>
        <JsonView label="Sample trigger output" value={sample} />
      </section>
    </div>
  );
}

function EventPanel({ workflow, config }: { workflow: TriggerWorkflow; config: Record<string, unknown> }) {
  const event = (config.event as string | undefined) ?? "your.event";
  const payload = (config.sample as Record<string, unknown> | undefined) ?? {};
  const code = eventCurl(window.location.origin, event, payload);
  return (
    <div className="trigger-panel">
      {!workflow.published_version && <NotLive what="start it on events" />}
      <section>
        <h3>What starts it</h3>
        <p data-testid="fires-when">A run starts each time your system sends the event <code>{event}</code> to <code>POST /api/v1/events</code>
          with an API key (Settings → API keys, operator or above). The same <code>id</code> twice starts it once.</p>
        <pre className="sample-code" tabIndex={0} aria-label="Sample event request">{code}</pre>
        <CopyButton text={code} label="Copy code" />
      </section>
      <section>
        <h3>What the workflow receives</h3>
        <JsonView label="Sample trigger output" value={{ event, id: "your-unique-id-1", payload }} />
      </section>
    </div>
  );
}
