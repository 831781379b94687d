// Inputs used by the schema form. Strings may hold templates, so text inputs carry the expression helper.
import { useLayoutEffect, useRef, useState } from "react";
import { InsertData } from "./InsertData";
import type { ReferenceGroup } from "./references";

type TextProps = {
  id?: string;
  value: string;
  onChange: (value: string) => void;
  references: ReferenceGroup[] | null; // null: no expression helper (trigger settings are never rendered)
  placeholder?: string;
  multiline?: boolean;
  invalid?: boolean;
  label?: string;
};

export function TemplateInput({ id, value, onChange, references, placeholder, multiline, invalid, label }: TextProps) {
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const caretAfterInsert = useRef<number | null>(null);
  // Put the caret after the inserted expression as soon as the new value is in the field, before the next key
  // is handled (a frame later, it would move the caret back from under what was typed meanwhile).
  useLayoutEffect(() => {
    const el = ref.current;
    if (caretAfterInsert.current === null || !el) return;
    el.focus();
    el.setSelectionRange(caretAfterInsert.current, caretAfterInsert.current);
    caretAfterInsert.current = null;
  }, [value]);
  const insert = (expression: string) => {
    const el = ref.current;
    const start = el?.selectionStart ?? value.length;
    const end = el?.selectionEnd ?? value.length;
    caretAfterInsert.current = start + expression.length;
    onChange(value.slice(0, start) + expression + value.slice(end));
  };
  const common = {
    id, ref, value, placeholder, "aria-label": label, "aria-invalid": invalid || undefined,
    onChange: (e: { target: { value: string } }) => onChange(e.target.value),
  };
  return (
    <div className="template-input">
      {multiline ? <textarea rows={2} {...common} /> : <input type="text" {...common} />}
      {references && <InsertData groups={references} onPick={insert} />}
    </div>
  );
}

type KeyValueProps = {
  value: Record<string, unknown>;
  onChange: (value: Record<string, unknown>) => void;
  references: ReferenceGroup[] | null;
};

/** An object of string values as rows of name / value. Rows keep their order while a name is typed. */
export function KeyValueField({ value, onChange, references }: KeyValueProps) {
  const rows = Object.entries(value);
  const update = (index: number, key: string, item: unknown) => {
    const next = rows.map((row, i) => (i === index ? [key, item] : row));
    onChange(Object.fromEntries(next));
  };
  const remove = (index: number) => onChange(Object.fromEntries(rows.filter((_, i) => i !== index)));
  const add = () => {
    let name = "field";
    for (let i = 2; name in value; i++) name = `field_${i}`;
    onChange({ ...value, [name]: "" });
  };
  return (
    <div className="kv">
      {rows.map(([key, item], index) => (
        <div className="kv-row" key={index}>
          <input className="kv-key" value={key} aria-label="Field name" placeholder="name"
            onChange={(e) => update(index, e.target.value, item)} />
          <TemplateInput value={typeof item === "string" ? item : JSON.stringify(item)} label={`Value of ${key}`}
            onChange={(text) => update(index, key, text)} references={references} placeholder="value" />
          <button type="button" className="btn btn-ghost btn-xs" onClick={() => remove(index)} aria-label={`Remove ${key}`}>✕</button>
        </div>
      ))}
      <button type="button" className="btn btn-secondary btn-xs" onClick={add}>+ Add field</button>
    </div>
  );
}

/** Any JSON value, edited as text; the value changes only when the text parses. */
export function JsonField({ value, onChange, id, invalid }: {
  value: unknown; onChange: (v: unknown) => void; id?: string; invalid?: boolean;
}) {
  const format = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 2));
  const [text, setText] = useState(format(value));
  const [problem, setProblem] = useState<string | null>(null);
  const [shown, setShown] = useState(value);
  if (shown !== value) {
    // Follow outside changes (undo, another field) unless the text already means the same value.
    setShown(value);
    setText((current) => {
      try {
        return JSON.stringify(JSON.parse(current)) === JSON.stringify(value) ? current : format(value);
      } catch {
        return current;
      }
    });
  }
  const edit = (next: string) => {
    setText(next);
    if (!next.trim()) return (setProblem(null), onChange(undefined));
    try {
      onChange(JSON.parse(next));
      setProblem(null);
    } catch (error) {
      setProblem(`Not valid JSON yet: ${(error as Error).message}`);
    }
  };
  return (
    <>
      <textarea id={id} className="code" rows={Math.min(10, Math.max(3, text.split("\n").length))} value={text}
        spellCheck={false} onChange={(e) => edit(e.target.value)} aria-invalid={!!problem || invalid || undefined} />
      {problem && <p className="field-error">{problem}</p>}
    </>
  );
}

const parseList = (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean);

/** A list of strings typed as "a, b, c"; the text is kept as typed so that commas and spaces can be entered. */
export function ListField({ id, value, onChange, references, invalid }: {
  id?: string; value: unknown; onChange: (v: string[] | undefined) => void; references: ReferenceGroup[] | null; invalid?: boolean;
}) {
  const joined = Array.isArray(value) ? value.map(String).join(", ") : "";
  const [text, setText] = useState(joined);
  const [shown, setShown] = useState(joined);
  if (shown !== joined) {
    setShown(joined);
    setText((current) => (parseList(current).join(", ") === joined ? current : joined));
  }
  return (
    <TemplateInput id={id} value={text} references={references} invalid={invalid} placeholder="one, or several separated by commas"
      onChange={(t) => {
        setText(t);
        const items = parseList(t);
        onChange(items.length ? items : undefined);
      }} />
  );
}
