// Add or edit a connection, in a dialog: the form is generated from the type's described config and
// secret fields. Secrets are password inputs, never pre-filled; on edit an empty secret keeps the saved one.
// The server's 422 (and the 409 of a name already used) shows next to the fields it names.
import { useMemo, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import type { JsonSchema } from "../api/types";
import { Icon } from "../components/Icon";
import { Modal } from "../components/Modal";
import { Field, SchemaForm, unwrapNullable } from "../editor/SchemaForm";
import { editableFields, typeLabel, type Connection, type ConnectionType } from "./api";
import { useSaveConnection } from "./queries";

type Props = {
  types: ConnectionType[];
  /** The connection to edit; absent: a new one. */
  connection?: Connection;
  /** The type chosen first when adding (from `#/connections?add=<type>`). */
  initialType?: string;
  onSaved: (connection: Connection, created: boolean) => void;
  onClose: () => void;
};

type Messages = Map<string, { message: string; hint?: string }[]>;

function push(map: Messages, key: string, message: { message: string; hint?: string }) {
  map.set(key, [...(map.get(key) ?? []), message]);
}

/** The schema of the fields a person fills in, in the type's order; on edit, saved secrets are optional. */
function formSchema(type: ConnectionType, connection?: Connection): JsonSchema {
  const fields = editableFields(type);
  const properties = Object.fromEntries(fields.map((name) => [name, type.schema.properties![name]]));
  const required = (type.schema.required ?? []).filter((name) => fields.includes(name) && !connection?.secrets[name]);
  return { type: "object", properties, required };
}

export function ConnectionForm({ types, connection, initialType, onSaved, onClose }: Props) {
  const editing = !!connection;
  const [typeName, setTypeName] = useState(connection?.type ?? (types.some((t) => t.type === initialType) ? initialType! : ""));
  const type = types.find((t) => t.type === typeName);
  const [name, setName] = useState(connection?.name ?? "");
  const [values, setValues] = useState<Record<string, unknown>>(() => ({ ...(connection?.config ?? {}) }));
  const [alerts, setAlerts] = useState(connection?.use_for_alerts ?? false);
  const [errors, setErrors] = useState<Messages>(new Map());
  const [problem, setProblem] = useState<{ message: string; hint?: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const { mutateAsync: saveConnection } = useSaveConnection(connection?.id);
  const schema = useMemo(() => (type ? formSchema(type, connection) : null), [type, connection]);
  const label = typeLabel(type, typeName);

  const placeholders = useMemo(() => Object.fromEntries(
    Object.keys(connection?.secrets ?? {}).map((secret) => [secret, "Saved: leave empty to keep it"]),
  ), [connection]);

  const chooseType = (next: string) => {
    setTypeName(next);
    setValues({});
    setErrors(new Map());
    setProblem(null);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!type) return;
    setBusy(true);
    setErrors(new Map());
    setProblem(null);
    const config: Record<string, unknown> = {};
    const secrets: Record<string, string> = {};
    for (const field of editableFields(type)) {
      const value = values[field];
      if (type.secret_fields.includes(field)) {
        if (typeof value === "string" && value !== "") secrets[field] = value; // empty: keep (edit) or unset (add)
      } else if (value !== undefined) config[field] = value;
      else if (editing && connection!.config[field] != null) config[field] = null; // cleared on purpose
    }
    try {
      const saved = await saveConnection(editing
        ? { config, ...(Object.keys(secrets).length ? { secrets } : {}), ...(type.type === "sendgrid" ? { use_for_alerts: alerts } : {}) }
        : { type: type.type, name: name.trim(), config, secrets, use_for_alerts: type.type === "sendgrid" && alerts });
      onSaved(saved, !editing);
    } catch (error) {
      if (!(error instanceof ApiError)) {
        setProblem({ message: String(error) });
        return;
      }
      const byField: Messages = new Map();
      const unplaced: { message: string; hint?: string }[] = [];
      for (const e of error.errors) {
        const field = e.path.replace(/^(config|secrets)\./, "");
        const described = unwrapNullable((schema?.properties ?? {})[field] ?? {}).description;
        const message = { message: e.message, hint: e.hint === described ? undefined : e.hint }; // the help text already says it
        if (field === "name" || field === "type" || field === "use_for_alerts" || (schema?.properties ?? {})[field]) push(byField, field, message);
        else unplaced.push(message);
      }
      setErrors(byField);
      // The summary on top: the API's detail when no field shows it, else a pointer to the fields.
      setProblem(byField.size && !unplaced.length
        ? { message: "Check the highlighted fields." }
        : { message: unplaced.length ? unplaced.map((u) => u.message).join("; ") : error.message, hint: unplaced[0]?.hint ?? error.hint });
    } finally {
      setBusy(false);
    }
  };

  const footer = (
    <>
      <button type="button" className="btn btn-ghost" onClick={onClose}>Cancel</button>
      <button type="submit" form="connection-form" className="btn btn-primary" disabled={!type || busy}>
        {busy ? "Saving…" : editing ? "Save changes" : type?.oauth ? "Save, then Connect" : "Add connection"}
      </button>
    </>
  );
  return (
    <Modal title={editing ? `Edit “${connection!.name}”` : type ? `Add a ${label} connection` : "Add a connection"} onClose={onClose} footer={footer} wide>
      <form id="connection-form" className="connection-form" onSubmit={submit} aria-label="Connection" noValidate>
        {!editing && (
          <Field name="type" id="connection-type" label="Service" required errors={errors.get("type") ?? []}>
            <select id="connection-type" value={typeName} onChange={(e) => chooseType(e.target.value)}>
              <option value="">Choose a service…</option>
              {types.map((t) => <option key={t.type} value={t.type}>{typeLabel(t, t.type)}</option>)}
            </select>
          </Field>
        )}
        {type && (
          <>
            <div className="help-card">
              <p>Secrets you enter here are encrypted for your workspace and never shown again, not even to you.</p>
              <a href={type.docs_url} target="_blank" rel="noreferrer">How to get these details <Icon name="external" size={13} /></a>
            </div>
            <Field name="name" id="connection-name" label="Connection name" required={!editing}
              description={editing ? "The name cannot be changed." : "How you will recognise it in your workflows, e.g. Marketing."}
              errors={errors.get("name") ?? []}>
              <input id="connection-name" value={name} onChange={(e) => setName(e.target.value)} readOnly={editing}
                maxLength={60} autoFocus={!editing} />
            </Field>
            <SchemaForm schema={schema!} value={values} onChange={setValues} errors={errors} references={null} placeholders={placeholders} />
            {type.type === "sendgrid" && (
              <Field name="use_for_alerts" id="field-use_for_alerts" label="Failure alerts" required={false}
                description="Email the workspace's admins through this account when a step fails for good."
                errors={errors.get("use_for_alerts") ?? []}>
                <label className="switch">
                  <input id="field-use_for_alerts" type="checkbox" checked={alerts} onChange={(e) => setAlerts(e.target.checked)} />
                  <span>{alerts ? "On" : "Off"}</span>
                </label>
              </Field>
            )}
            {type.oauth && (
              <p className="muted small">After saving, press <strong>Connect</strong> to sign in to {label} and allow Flowyard to post for you.</p>
            )}
          </>
        )}
        {problem && (
          <div className="callout callout-error" role="alert">
            <strong>{problem.message}</strong>
            {problem.hint && <p>{problem.hint}</p>}
          </div>
        )}
      </form>
    </Modal>
  );
}

