// One template: what it does, what it needs, its graph on a read-only canvas, and the form that makes it a
// workflow of yours (its parameters and how it starts).
import { lazy, Suspense, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import type { JsonSchema } from "../api/types";
import { navigate } from "../lib/route";
import type { Instantiated, TemplateDetail } from "./api";
import { INITIAL_TRIGGER, TriggerChoice, triggerOverrides, type TriggerForm } from "./TriggerChoice";
import { useInstantiate, useTemplate } from "./queries";
import "./templates.css";

// The canvas (React Flow) loads with the preview only: the gallery stays light.
const GraphPreview = lazy(() => import("./GraphPreview").then((m) => ({ default: m.GraphPreview })));

type Values = Record<string, unknown>;

function initialValues(schema: JsonSchema): Values {
  return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, spec]) => [name, spec.default]));
}

function ParameterField({ name, spec, value, error, onChange }: {
  name: string; spec: JsonSchema; value: unknown; error?: string; onChange: (v: unknown) => void;
}) {
  const id = `param-${name}`;
  const label = spec.title ?? name;
  let input;
  if (spec.enum) {
    input = (
      <select id={id} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)}>
        {spec.enum.map((option) => <option key={String(option)} value={String(option)}>{String(option)}</option>)}
      </select>
    );
  } else if (spec.type === "boolean") {
    input = <input id={id} type="checkbox" checked={Boolean(value)} onChange={(e) => onChange(e.target.checked)} />;
  } else if (spec.type === "integer" || spec.type === "number") {
    input = <input id={id} type="number" step={spec.type === "integer" ? 1 : "any"} min={spec.minimum} max={spec.maximum}
                   value={value === undefined || value === null ? "" : String(value)}
                   onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />;
  } else if (spec.type === "array") {
    input = <input id={id} value={Array.isArray(value) ? value.join(", ") : ""}
                   onChange={(e) => onChange(e.target.value.split(",").map((s) => s.trim()).filter(Boolean))} />;
  } else {
    const long = typeof value === "string" && (value.length > 60 || value.includes("\n"));
    input = long
      ? <textarea id={id} rows={3} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)} />
      : <input id={id} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div className="field template-param">
      <label htmlFor={id}>{label}</label>
      {input}
      {spec.description && <div className="muted small">{spec.description}</div>}
      {error && <div className="field-error">{error}</div>}
    </div>
  );
}

/** The Connections page with the type's form open; back from there, the new connection can go into this workflow. */
function connectLink(type: string, workflowId: string, add: boolean): string {
  return `#/connections?${add ? `add=${encodeURIComponent(type)}&` : ""}workflow=${encodeURIComponent(workflowId)}`;
}

function Result({ result }: { result: Instantiated }) {
  return (
    <div className="card template-result">
      <h2>“{result.workflow.name}” is ready as a draft</h2>
      {result.setup_complete
        ? <p>Every step has a connection. Try it with a test run, then publish it.</p>
        : <p>Connect these accounts before it can run:</p>}
      <ul aria-label="Accounts to connect">
        {result.integrations.filter((i) => !i.connected).map((i) => (
          <li key={i.type}>
            <strong>{i.label}</strong> — <a href={connectLink(i.type, result.workflow.id, !i.connections.length)}>
              {i.connections.length ? `Connect your ${i.label} account` : `Add a ${i.label} connection`}
            </a>
            {i.connections.length > 0 && <span className="muted small"> (press Connect on “{i.connections[0].name}”)</span>}
          </li>
        ))}
      </ul>
      <button className="btn btn-primary" onClick={() => navigate(`/workflows/${result.workflow.id}`)}>Open the workflow</button>
    </div>
  );
}

/** What went wrong instantiating: the message on top, the parameters' errors by name, and the trigger's
 * (trigger_overrides, or the settings of the graph's trigger step at `triggerIndex`). */
function problemOf(error: Error | null, triggerIndex: number): { message: string | null; byParameter: Record<string, string>; trigger?: string } {
  if (!error) return { message: null, byParameter: {} };
  if (!(error instanceof ApiError)) return { message: String(error), byParameter: {} };
  const onTrigger = error.errors.find((e) => e.path.startsWith("trigger_overrides") || e.path.startsWith(`graph.nodes[${triggerIndex}].`));
  return {
    message: `${error.message}${error.hint ? ` ${error.hint}` : ""}`,
    byParameter: Object.fromEntries(error.errors.map((e) => [e.path.replace(/^parameters\./, ""), e.message])),
    trigger: onTrigger && `${onTrigger.path.replace(/^graph\.nodes\[\d+\]\.config\./, "")}: ${onTrigger.message}${onTrigger.hint ? ` (${onTrigger.hint})` : ""}`,
  };
}

/** A problem whose one error is shown next to its field needs no callout too. */
const onlyOneError = (error: Error | null) => error instanceof ApiError && error.errors.length === 1;

export function TemplatePage({ slug }: { slug: string }) {
  const { data: template, error } = useTemplate(slug);
  if (!template) {
    return <main className="page">{error ? <div className="callout callout-error" role="alert">{error.message} <a href="#/templates">Back to the templates</a></div> : <p className="muted" role="status">Loading the template…</p>}</main>;
  }
  return <TemplateView key={slug} template={template} />;
}

function TemplateView({ template }: { template: TemplateDetail }) {
  const [name, setName] = useState(template.title);
  const [values, setValues] = useState<Values>(() => initialValues(template.parameters));
  const [trigger, setTrigger] = useState<TriggerForm>(INITIAL_TRIGGER);
  const instantiate = useInstantiate(template.slug);
  const result = instantiate.data;
  const triggerIndex = template.graph.nodes.findIndex((n) => n.type.startsWith("trigger."));
  const { message: problem, byParameter: errors, trigger: triggerError } = problemOf(instantiate.error, triggerIndex);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    instantiate.mutate({ name: name.trim(), parameters: values, trigger_overrides: triggerOverrides(trigger) });
  };

  return (
    <main className="page template-page">
      <a className="muted small" href="#/templates">← All templates</a>
      <div className="page-head">
        <h1>{template.title}</h1>
        <span><span className="tag">{template.category_label}</span><span className="tag">v{template.version}</span></span>
      </div>
      <p>{template.description}</p>
      <h2 className="template-steps-title">The steps</h2>
      <Suspense fallback={<p className="muted" role="status">Loading the canvas…</p>}>
        <GraphPreview graph={template.graph} label={`The steps of ${template.title}`} />
      </Suspense>
      <div className="template-columns">
        <section>
          <h2>What it needs</h2>
          {template.required_integrations.length === 0 && <p className="muted">Nothing to connect: every step is built in.</p>}
          <ul className="template-needs" aria-label="Integrations it needs">
            {template.required_integrations.map((i) => (
              <li key={i.type} className={i.connected ? "chip-ok" : "chip-error"}>
                {i.label}: {i.built_in ? "built in" : i.connected ? "connected" : "not connected yet"}
              </li>
            ))}
          </ul>
          {template.trigger && <p className="muted small">Starts: {template.trigger.description}</p>}
          <h2>Changelog</h2>
          <ul className="muted small">
            {template.changelog.map((c) => <li key={c.version}>v{c.version} ({c.date}): {c.changes}</li>)}
          </ul>
        </section>
        <section>
          {result ? <Result result={result} /> : (
            <form className="card template-form" onSubmit={submit} aria-label="Use this template">
              <h2>Customise it</h2>
              <div className="field">
                <label htmlFor="workflow-name">Workflow name</label>
                <input id="workflow-name" required value={name} onChange={(e) => setName(e.target.value)} />
              </div>
              {Object.entries(template.parameters.properties ?? {}).map(([param, spec]) => (
                <ParameterField key={param} name={param} spec={spec} value={values[param]} error={errors[param]}
                                onChange={(v) => setValues((current) => ({ ...current, [param]: v }))} />
              ))}
              <TriggerChoice template={template.trigger} value={trigger} onChange={setTrigger} error={triggerError} />
              {problem && !(triggerError && onlyOneError(instantiate.error)) && <div className="callout callout-error" role="alert">{problem}</div>}
              <button className="btn btn-primary" disabled={instantiate.isPending}>{instantiate.isPending ? "Creating…" : "Use this template"}</button>
              <p className="muted small">This creates a draft workflow of yours; the template itself never changes.</p>
            </form>
          )}
        </section>
      </div>
    </main>
  );
}
