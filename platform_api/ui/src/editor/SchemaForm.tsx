// Renders a config form from its JSON Schema: strings (with the expression helper), numbers, booleans,
// enums, objects of strings, lists of strings, secrets (password inputs), a step's connection (a select of
// the tenant's connections of its type) and any other JSON as text.
import type { ReactNode } from "react";
import type { JsonSchema } from "../api/types";
import { humanize } from "../lib/format";
import { ConnectionSelect } from "./ConnectionSelect";
import { JsonField, KeyValueField, ListField, TemplateInput } from "./fields";
import type { ReferenceGroup } from "./references";

type Kind = "connection" | "secret" | "enum" | "boolean" | "number" | "string" | "keyvalue" | "list" | "json";

/** `X | null` is shown as X. */
export function unwrapNullable(schema: JsonSchema): JsonSchema {
  const options = schema.anyOf?.filter((s) => s.type !== "null");
  return options?.length === 1
    ? {
      ...options[0], title: schema.title ?? options[0].title, description: schema.description, default: schema.default,
      ...(schema["x-connection-type"] ? { "x-connection-type": schema["x-connection-type"] } : {}),
    }
    : schema;
}

function kindOf(name: string, schema: JsonSchema, value: unknown, templated: boolean): Kind {
  if (schema["x-connection-type"]) return "connection";
  if (schema.writeOnly || schema.format === "password") return "secret";
  if (schema.enum) return "enum";
  if (name.endsWith("schema")) return "json"; // a JSON Schema (input_schema, output_schema) is edited as JSON
  switch (schema.type) {
    case "boolean": return "boolean";
    case "number": case "integer": return "number";
    case "string": return "string";
    case "array": return schema.items?.type === "string" ? "list" : "json";
    case "object": {
      const values = Object.values((value ?? {}) as object);
      const stringValues = values.every((v) => typeof v === "string");
      const extra = schema.additionalProperties;
      const ofStrings = typeof extra === "object" && extra.type === "string";
      return !schema.properties && (ofStrings || (extra !== false && templated && stringValues)) ? "keyvalue" : "json";
    }
    default: return "json";
  }
}

type FieldProps = {
  name: string;
  schema: JsonSchema;
  value: unknown;
  onChange: (value: unknown) => void;
  references: ReferenceGroup[] | null;
  placeholder?: string;
};

function FieldInput({ name, schema, value, onChange, references, placeholder }: FieldProps) {
  const id = `field-${name}`;
  switch (kindOf(name, schema, value, references !== null)) {
    case "connection":
      return <ConnectionSelect id={id} type={schema["x-connection-type"]!} value={value} onChange={onChange} />;
    case "secret":
      // Never pre-filled from the server (it sends only a mask); the browser must not offer saved passwords.
      return (
        <input id={id} type="password" autoComplete="new-password" spellCheck={false} value={typeof value === "string" ? value : ""}
          placeholder={placeholder} onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)} />
      );
    case "enum":
      return (
        <select id={id} value={value === undefined ? "" : String(value)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}>
          <option value="">{schema.default !== undefined ? `Default (${String(schema.default)})` : "Choose…"}</option>
          {schema.enum!.map((option) => <option key={String(option)} value={String(option)}>{String(option)}</option>)}
        </select>
      );
    case "boolean":
      return (
        <label className="switch">
          <input id={id} type="checkbox" checked={Boolean(value ?? schema.default)} onChange={(e) => onChange(e.target.checked)} />
          <span>{value ?? schema.default ? "On" : "Off"}</span>
        </label>
      );
    case "number":
      return (
        <input id={id} type="number" value={value === undefined ? "" : String(value)}
          placeholder={placeholder ?? (schema.default != null ? String(schema.default) : undefined)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
      );
    case "string":
      return (
        <TemplateInput id={id} value={typeof value === "string" ? value : ""} references={references}
          multiline={name === "message"} placeholder={placeholder ?? (schema.default != null ? String(schema.default) : undefined)}
          onChange={(text) => onChange(text === "" ? undefined : text)} />
      );
    case "keyvalue":
      return <KeyValueField value={(value ?? {}) as Record<string, unknown>} onChange={onChange} references={references} />;
    case "list":
      return <ListField id={id} value={value} onChange={onChange} references={references} />;
    default:
      return <JsonField id={id} value={value} onChange={onChange} />;
  }
}

/** A copy of `value` with `name` set to `next`, or removed when `next` is undefined. */
export function withField(value: Record<string, unknown>, name: string, next: unknown): Record<string, unknown> {
  const copy = { ...value };
  if (next === undefined) delete copy[name];
  else copy[name] = next;
  return copy;
}

type FieldMessage = { message: string; hint?: string | null };

/** One labelled field: its label (with a required mark), help text, the input, and its errors.
 * The help and the errors carry ids (`<id>-help`, `<id>-errors`) that the input can name in aria-describedby. */
export function Field({ name, id, label, required, description, errors, children }: {
  name: string; id: string; label?: string; required: boolean; description?: string; errors: FieldMessage[]; children: ReactNode;
}) {
  return (
    <div className={`field${errors.length ? " field-invalid" : ""}`} data-field={name}>
      <label htmlFor={id}>
        {label || humanize(name)}
        {required && <span className="required" title="Required"> *</span>}
      </label>
      {description && <p className="help" id={`${id}-help`}>{description}</p>}
      {children}
      {errors.length > 0 && (
        <div id={`${id}-errors`}>
          {errors.map((error, index) => (
            <p key={index} className="field-error" role="alert">
              {error.message}
              {error.hint && <span className="hint"> — {error.hint}</span>}
            </p>
          ))}
        </div>
      )}
    </div>
  );
}

type FormProps = {
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
  errors: Map<string, FieldMessage[]>;
  references: ReferenceGroup[] | null;
  /** Per-field placeholder text, e.g. "leave empty to keep it" on a saved secret. */
  placeholders?: Record<string, string>;
};

export function SchemaForm({ schema, value, onChange, errors, references, placeholders }: FormProps) {
  const required = new Set(schema.required ?? []);
  const set = (name: string, next: unknown) => onChange(withField(value, name, next));
  return (
    <div className="schema-form">
      {Object.entries(schema.properties ?? {}).map(([name, raw]) => {
        const field = unwrapNullable(raw);
        return (
          <Field key={name} name={name} id={`field-${name}`} required={required.has(name)}
            description={field["x-connection-type"] ? "The account this step uses: one of your connections." : field.description}
            errors={errors.get(name) ?? []}>
            <FieldInput name={name} schema={field} value={value[name]} onChange={(v) => set(name, v)} references={references}
              placeholder={placeholders?.[name]} />
          </Field>
        );
      })}
    </div>
  );
}
