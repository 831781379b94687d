// The input of a run as a form derived from the trigger's input_schema (one field per property), or as
// raw JSON: the "JSON" toggle switches between the two, which edit the same value. Required fields, numbers
// and emails are checked before submit; the server's 422 errors (`input.email`) show next to their field.
import { useState, type FormEvent } from "react";
import type { JsonSchema } from "../api/types";
import { instantToZoned, useDates, zonedToInstant, type Zone } from "../lib/dates";
import { humanize } from "../lib/format";
import { JsonField, ListField } from "./fields";
import { Field, unwrapNullable, withField } from "./SchemaForm";

export type InputError = { path: string; message: string; hint?: string | null };
type Input = Record<string, unknown>;
type Kind = "enum" | "boolean" | "number" | "email" | "date" | "datetime" | "text" | "list" | "json";

const REQUIRED = /^'([^']+)' is a required property$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const isObject = (v: unknown): v is Input => typeof v === "object" && v !== null && !Array.isArray(v);

function kindOf(schema: JsonSchema): Kind {
  if (schema.enum) return "enum";
  switch (schema.type) {
    case "boolean": return "boolean";
    case "number": case "integer": return "number";
    case "string":
      return schema.format === "email" ? "email" : schema.format === "date" ? "date" : schema.format === "date-time" ? "datetime" : "text";
    case "array": return schema.items?.type === "string" && !schema.items.enum ? "list" : "json";
    default: return "json";
  }
}

/** An RFC 3339 date-time as a datetime-local input shows it: the workspace's wall clock, to the minute. */
function toLocalInput(value: unknown, zone: Zone): string {
  const date = typeof value === "string" ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) return "";
  return instantToZoned(date.toISOString(), zone);
}

/** The property an error is about: `input.email`, `input.tags[0]` (a missing field is named by its path too). */
export function fieldOf(error: InputError): string | null {
  return /^input\.([^.[]+)/.exec(error.path)?.[1] ?? null;
}

function properties(schema: JsonSchema | null | undefined): [string, JsonSchema][] {
  return Object.entries(schema?.properties ?? {}).map(([name, raw]) => [name, unwrapNullable(raw)]);
}

/** Defaults from the schema (required booleans start unchecked: false), then the trigger's sample. */
export function initialInput(schema: JsonSchema | null | undefined, sample: unknown): Input {
  const required = new Set(schema?.required ?? []);
  const value: Input = {};
  for (const [name, field] of properties(schema)) {
    if (field.default !== undefined) value[name] = field.default;
    else if (field.type === "boolean" && required.has(name)) value[name] = false;
  }
  return { ...value, ...(isObject(sample) ? sample : {}) };
}

/** What the browser can check before sending: required fields, numbers, whole numbers, email addresses. */
function check(schema: JsonSchema, value: Input): InputError[] {
  const required = new Set(schema.required ?? []);
  const errors: InputError[] = [];
  const fail = (name: string, message: string) => errors.push({ path: `input.${name}`, message });
  for (const [name, field] of properties(schema)) {
    const v = value[name];
    if (v === undefined || v === "") {
      if (required.has(name)) fail(name, "This field is required.");
      continue;
    }
    const kind = kindOf(field);
    if (kind === "number" && (typeof v !== "number" || !Number.isFinite(v))) fail(name, "Enter a number.");
    else if (kind === "number" && field.type === "integer" && !Number.isInteger(v)) fail(name, "Enter a whole number.");
    else if (kind === "email" && (typeof v !== "string" || !EMAIL.test(v))) fail(name, "Enter an email address, like jane@example.com.");
  }
  return errors;
}

type InputProps = { id: string; schema: JsonSchema; value: unknown; onChange: (v: unknown) => void; invalid: boolean; describedBy?: string };

function RunField({ id, schema, value, onChange, invalid, describedBy }: InputProps) {
  const aria = { id, "aria-invalid": invalid || undefined, "aria-describedby": describedBy };
  const { zone } = useDates();
  const text = (type: string) => (
    <input {...aria} type={type} value={typeof value === "string" ? value : value === undefined ? "" : String(value)}
      onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />
  );
  switch (kindOf(schema)) {
    case "enum": {
      const index = schema.enum!.findIndex((option) => JSON.stringify(option) === JSON.stringify(value));
      return (
        <select {...aria} value={index < 0 ? "" : String(index)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : schema.enum![Number(e.target.value)])}>
          <option value="">Choose…</option>
          {schema.enum!.map((option, i) => <option key={i} value={String(i)}>{String(option)}</option>)}
        </select>
      );
    }
    case "boolean":
      return (
        <label className="switch">
          <input {...aria} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />
          <span>{value === true ? "Yes" : "No"}</span>
        </label>
      );
    case "number":
      return (
        <input {...aria} type="number" step={schema.type === "integer" ? 1 : "any"} min={schema.minimum} max={schema.maximum}
          value={typeof value === "number" ? String(value) : ""}
          onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
      );
    case "email": return text("email");
    case "date": return text("date");
    case "datetime":
      return (
        <input {...aria} type="datetime-local" value={toLocalInput(value, zone)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : zonedToInstant(e.target.value, zone))} />
      );
    case "text": return text("text");
    case "list": return <ListField id={id} value={value} onChange={onChange} references={null} invalid={invalid} />;
    default: return <JsonField id={id} value={value} onChange={onChange} invalid={invalid} />;
  }
}

type Props = {
  id: string; // the <form>'s id, for a submit button outside it (a dialog's footer)
  schema: JsonSchema | null | undefined;
  initial: Input;
  serverErrors: InputError[]; // the `errors` of the last 422 answer
  onSubmit: (input: Input) => void;
};

export function RunInputForm({ id, schema, initial, serverErrors, onSubmit }: Props) {
  const fields = properties(schema);
  const hasForm = fields.length > 0;
  const [value, setValue] = useState<Input>(initial);
  const [asJson, setAsJson] = useState(!hasForm);
  const [text, setText] = useState(() => JSON.stringify(initial, null, 2));
  const [jsonProblem, setJsonProblem] = useState<string | null>(null);
  const [clientErrors, setClientErrors] = useState<InputError[]>([]);
  const [shownServerErrors, setShownServerErrors] = useState(serverErrors); // until their field is edited
  const [answer, setAnswer] = useState(serverErrors); // a new answer shows all of its errors
  if (answer !== serverErrors) {
    setAnswer(serverErrors);
    setShownServerErrors(serverErrors);
  }

  const errors = [...clientErrors, ...shownServerErrors];
  const known = new Set(fields.map(([name]) => name));
  const errorsOf = (name: string) =>
    errors.filter((e) => fieldOf(e) === name).map((e) => ({ message: REQUIRED.test(e.message) ? "This field is required." : e.message }));
  const general = asJson ? errors : errors.filter((e) => !known.has(fieldOf(e) ?? ""));

  const change = (name: string, next: unknown) => {
    setValue((current) => withField(current, name, next));
    const others = (errors: InputError[]) => errors.filter((e) => fieldOf(e) !== name);
    setClientErrors(others);
    setShownServerErrors(others);
  };
  const editJson = (next: string) => {
    setText(next);
    setClientErrors([]);
    setShownServerErrors([]);
    try {
      const parsed = JSON.parse(next || "{}");
      if (!isObject(parsed)) return setJsonProblem("The payload must be a JSON object: { … }");
      setValue(parsed);
      setJsonProblem(null);
    } catch (error) {
      setJsonProblem(`Not valid JSON: ${(error as Error).message}`);
    }
  };
  const toggle = () => {
    if (!asJson) setText(JSON.stringify(value, null, 2));
    setAsJson(!asJson);
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (asJson && jsonProblem) return document.getElementById(`${id}-json`)?.focus();
    const problems = schema ? check(schema, value) : [];
    setClientErrors(problems);
    if (!problems.length) return onSubmit(value);
    const first = fieldOf(problems[0]);
    if (!asJson) document.getElementById(`${id}-${first}`)?.focus();
  };

  return (
    <form id={id} className="run-input-form" onSubmit={submit} noValidate>
      {hasForm && (
        <div className="row">
          <span className="muted small">{asJson ? "Edit the input as JSON." : "Fill in the trigger’s fields."}</span>
          <span className="toolbar-spacer" />
          <button type="button" className={`btn btn-xs ${asJson ? "btn-secondary" : "btn-ghost"}`} aria-pressed={asJson} onClick={toggle}
            disabled={asJson && !!jsonProblem} title={asJson && jsonProblem ? "Fix the JSON to go back to the form" : undefined}>
            JSON
          </button>
        </div>
      )}
      {general.length > 0 && (
        <div className="callout callout-error" role="alert">
          {general.map((e, index) => (
            <p key={index}>{fieldOf(e) ? `${humanize(fieldOf(e)!)}: ` : ""}{e.message}</p>
          ))}
        </div>
      )}
      {asJson ? (
        <>
          <label htmlFor={`${id}-json`}>Trigger payload (JSON)</label>
          <textarea id={`${id}-json`} className="code" rows={10} value={text} spellCheck={false}
            onChange={(e) => editJson(e.target.value)} aria-invalid={!!jsonProblem || undefined} />
          {jsonProblem && <p className="field-error">{jsonProblem}</p>}
        </>
      ) : (
        fields.map(([name, field]) => {
          const fieldId = `${id}-${name}`;
          const fieldErrors = errorsOf(name);
          const describedBy = [field.description && `${fieldId}-help`, fieldErrors.length && `${fieldId}-errors`].filter(Boolean).join(" ");
          return (
            <Field key={name} name={name} id={fieldId} label={field.title} required={!!schema?.required?.includes(name)}
              description={field.description} errors={fieldErrors}>
              <RunField id={fieldId} schema={field} value={value[name]} onChange={(v) => change(name, v)}
                invalid={fieldErrors.length > 0} describedBy={describedBy || undefined} />
            </Field>
          );
        })
      )}
    </form>
  );
}
