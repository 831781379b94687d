// Finding runs by a value in their input (a customer's email, a phone number, an order id): exact, case aside, in
// the workspace's search fields (Settings), or in one of them.
import { useState, type FormEvent } from "react";
import { humanize } from "../lib/format";
import { useWorkspace } from "../settings/queries";
import type { RunFilters } from "./api";

const SPOKEN: Record<string, string> = { email: "email", phone: "phone", customer_id: "customer", order_id: "order id" };

/** "Find runs by email, phone, customer or order id", from the workspace's search fields. */
export function searchPrompt(fields: string[]): string {
  const names = fields.map((f) => SPOKEN[f] ?? humanize(f).toLowerCase());
  if (names.length === 0) return "Find runs by a value in their input";
  const listed = names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
  return `Find runs by ${listed}`;
}

type Props = { filters: RunFilters; onChange: (f: RunFilters) => void };

export function RunSearch({ filters, onChange }: Props) {
  const fields = useWorkspace().data?.search_fields ?? ["email", "phone", "customer_id", "order_id"];
  const [value, setValue] = useState(filters.search);
  const [field, setField] = useState(filters.searchField);
  const prompt = searchPrompt(fields);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const search = value.trim();
    onChange({ ...filters, search, searchField: search ? field : "" });
  };
  const clear = () => {
    setValue("");
    setField("");
    onChange({ ...filters, search: "", searchField: "" });
  };
  return (
    <form className="runs-search" role="search" aria-label="Find runs" onSubmit={submit}>
      <label>{prompt}
        <input type="search" value={value} placeholder="ada@example.com" aria-label={prompt}
          onChange={(e) => setValue(e.target.value)} />
      </label>
      <label className="runs-search-field">In
        <select value={field} aria-label="Search in" onChange={(e) => setField(e.target.value)}>
          <option value="">Any field</option>
          {fields.map((f) => <option key={f} value={f}>{humanize(f)}</option>)}
        </select>
      </label>
      <button className="btn btn-primary">Find</button>
      {filters.search && <button type="button" className="btn btn-secondary" onClick={clear}>Clear</button>}
      <small className="runs-search-hint">Exact match: type the whole value (inputs are encrypted).</small>
    </form>
  );
}
