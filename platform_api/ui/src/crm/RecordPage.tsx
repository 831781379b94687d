// One CRM record (#/crm/contacts/<id>, #/crm/companies/<id>, #/crm/deals/<id>): its fields (editable), its
// activities (and a note to add), and the workflows that touched it: the runs whose steps wrote it and the runs
// its changes started, each linked to its run page.
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { StatusPill } from "../components/StatusPill";
import { useToast } from "../components/Toasts";
import { dateTime, timeAgo } from "../lib/format";
import { FieldProblem, ProblemNote } from "../settings/ProblemNote";
import { contactName, crmApi, parseTags, STAGE_LABELS, type Company, type Contact, type Deal, type RecordType, type Stage } from "./api";
import { CompanySelect } from "./CompanySelect";
import { crmKeys, useActivities, useAddNote, useRecord, useRecordRuns, useStages } from "./queries";

const LIST = { contact: "contacts", company: "companies", deal: "deals" } as const;
const NOUN = { contact: "Contacts", company: "Companies", deal: "Deals" } as const;

type AnyRecord = Contact | Company | Deal;

function title(type: RecordType, record: AnyRecord): string {
  if (type === "contact") return contactName(record as Contact);
  if (type === "company") return (record as Company).name;
  return (record as Deal).title;
}

export function RecordPage({ type, id }: { type: RecordType; id: string }) {
  const record = useRecord<AnyRecord>(type, id);
  return (
    <main className="page crm-record-page">
      <p className="crm-crumbs"><a href={`#/crm/${LIST[type]}`}>← {NOUN[type]}</a></p>
      {record.error && <ProblemNote error={record.error} />}
      {record.data && (
        <>
          <div className="page-head"><h1>{title(type, record.data)}</h1>
            {record.data.test_data && <span className="tag tag-warn">written by a test run</span>}</div>
          <div className="crm-record">
            <section className="card" aria-label="Fields">
              <h2>Fields</h2>
              {type === "contact" ? <ContactForm contact={record.data as Contact} />
                : type === "company" ? <CompanyForm company={record.data as Company} />
                : <DealForm deal={record.data as Deal} />}
            </section>
            <div className="crm-side">
              <RunsPanel type={type} id={id} />
              <ActivitiesPanel type={type} id={id} />
            </div>
          </div>
        </>
      )}
    </main>
  );
}

/** Saves the changed fields with the API's PATCH (which fires data-change triggers as any change does). */
function useSave(type: RecordType, id: string) {
  const client = useQueryClient();
  const notify = useToast();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const save = async (body: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    try {
      const fresh = type === "contact" ? await crmApi.updateContact(id, body)
        : type === "company" ? await crmApi.updateCompany(id, body) : await crmApi.updateDeal(id, body);
      client.setQueryData(crmKeys.record(type, id), fresh);
      void client.invalidateQueries({ queryKey: ["crm"] });
      notify("Saved", "success");
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  return { save, error, busy };
}

type FieldProps = { name: string; label: string; value: string; onChange: (v: string) => void; error: unknown; type?: string };
function Field({ name, label, value, onChange, error, type = "text" }: FieldProps) {
  return (
    <label>{label}
      <input name={name} type={type} value={value} onChange={(e) => onChange(e.target.value)} />
      <FieldProblem error={error} path={name} />
    </label>
  );
}

function Properties({ properties }: { properties: Record<string, unknown> }) {
  const entries = Object.entries(properties ?? {});
  if (!entries.length) return null;
  return (
    <dl className="crm-properties">
      {entries.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{typeof v === "string" ? v : JSON.stringify(v)}</dd></div>)}
    </dl>
  );
}

function ContactForm({ contact }: { contact: Contact }) {
  const [form, setForm] = useState({
    first_name: contact.first_name, last_name: contact.last_name, email: contact.email ?? "", phone: contact.phone ?? "",
    company_id: contact.company_id ?? "", tags: contact.tags.join(", "),
  });
  const { save, error, busy } = useSave("contact", contact.id);
  const set = (name: keyof typeof form) => (value: string) => setForm({ ...form, [name]: value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save({
      first_name: form.first_name, last_name: form.last_name, email: form.email.trim() || null, phone: form.phone.trim() || null,
      company_id: form.company_id || null, tags: parseTags(form.tags),
    });
  };
  return (
    <form className="crm-form" noValidate onSubmit={submit}>
      <Field name="first_name" label="First name" value={form.first_name} onChange={set("first_name")} error={error} />
      <Field name="last_name" label="Last name" value={form.last_name} onChange={set("last_name")} error={error} />
      <Field name="email" label="Email" type="email" value={form.email} onChange={set("email")} error={error} />
      <Field name="phone" label="Phone" type="tel" value={form.phone} onChange={set("phone")} error={error} />
      <label>Company<CompanySelect label="Company" empty="No company" value={form.company_id} onChange={set("company_id")} /></label>
      <Field name="tags" label="Tags (separated by commas)" value={form.tags} onChange={set("tags")} error={error} />
      <Properties properties={contact.properties} />
      <ProblemNote error={error} fields={["first_name", "last_name", "email", "phone", "tags"]} />
      <div className="row"><button className="btn btn-primary" disabled={busy}>Save</button>
        <span className="muted small">Added {dateTime(contact.created_at)} · changed {timeAgo(contact.updated_at)}</span></div>
    </form>
  );
}

function CompanyForm({ company }: { company: Company }) {
  const [form, setForm] = useState({ name: company.name, domain: company.domain ?? "" });
  const { save, error, busy } = useSave("company", company.id);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save({ name: form.name, domain: form.domain.trim() || null });
  };
  return (
    <form className="crm-form" noValidate onSubmit={submit}>
      <Field name="name" label="Name" value={form.name} onChange={(name) => setForm({ ...form, name })} error={error} />
      <Field name="domain" label="Domain" value={form.domain} onChange={(domain) => setForm({ ...form, domain })} error={error} />
      <Properties properties={company.properties} />
      <ProblemNote error={error} fields={["name", "domain"]} />
      <div className="row"><button className="btn btn-primary" disabled={busy}>Save</button>
        <a href={`#/crm/contacts?company=${company.id}`}>Its contacts</a></div>
    </form>
  );
}

function DealForm({ deal }: { deal: Deal }) {
  const stages = useStages().data ?? [deal.stage];
  const [form, setForm] = useState({
    title: deal.title, stage: deal.stage, amount: deal.amount == null ? "" : String(deal.amount), currency: deal.currency,
    company_id: deal.company_id ?? "",
  });
  const { save, error, busy } = useSave("deal", deal.id);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save({
      title: form.title, stage: form.stage, amount: form.amount.trim() === "" ? null : Number(form.amount), currency: form.currency,
      company_id: form.company_id || null,
    });
  };
  return (
    <form className="crm-form" noValidate onSubmit={submit}>
      <Field name="title" label="Title" value={form.title} onChange={(title) => setForm({ ...form, title })} error={error} />
      <label>Stage
        <select name="stage" value={form.stage} onChange={(e) => setForm({ ...form, stage: e.target.value as Stage })}>
          {stages.map((s) => <option key={s} value={s}>{STAGE_LABELS[s] ?? s}</option>)}
        </select>
      </label>
      <Field name="amount" label="Amount" type="number" value={form.amount} onChange={(amount) => setForm({ ...form, amount })} error={error} />
      <Field name="currency" label="Currency" value={form.currency} onChange={(currency) => setForm({ ...form, currency })} error={error} />
      <label>Company<CompanySelect label="Company" empty="No company" value={form.company_id} onChange={(company_id) => setForm({ ...form, company_id })} /></label>
      {deal.contact_id && <p><a href={`#/crm/contacts/${deal.contact_id}`}>Its contact</a></p>}
      {deal.closed_at && <p className="muted small">Closed {dateTime(deal.closed_at)}</p>}
      <ProblemNote error={error} fields={["title", "amount", "currency"]} />
      <div className="row"><button className="btn btn-primary" disabled={busy}>Save</button></div>
    </form>
  );
}

const RELATION = { wrote: "changed it", triggered: "started by a change to it" } as const;

function RunsPanel({ type, id }: { type: RecordType; id: string }) {
  const runs = useRecordRuns(type, id);
  const items = runs.data?.pages.flatMap((p) => p.items);
  return (
    <section className="card" aria-label="Workflows that touched this record">
      <h2>Workflows that touched this record</h2>
      {runs.error && <ProblemNote error={runs.error} />}
      {items?.length === 0 && <p className="muted">No workflow has changed it, and its changes have started none.</p>}
      <ul className="list crm-runs">
        {items?.map((r) => (
          <li key={`${r.run_id}-${r.relation}-${r.node_id ?? ""}`}>
            <a className="list-item crm-run" href={`#/runs/${r.run_id}`} data-run-id={r.run_id} data-relation={r.relation}>
              <StatusPill status={r.status} />
              <span className="crm-run-main">
                <strong>{r.workflow_name}</strong>{r.mode === "test" && <span className="tag tag-warn">test</span>}
                <span className="muted small"> {RELATION[r.relation]}{r.node_id ? ` (step ${r.node_id}, ${r.action})` : ""} · <span title={dateTime(r.at)}>{timeAgo(r.at)}</span></span>
              </span>
            </a>
          </li>
        ))}
      </ul>
      {runs.hasNextPage && <button className="btn btn-secondary btn-xs" onClick={() => runs.fetchNextPage()}>Load more</button>}
    </section>
  );
}

function ActivitiesPanel({ type, id }: { type: RecordType; id: string }) {
  const activities = useActivities(type, id);
  const add = useAddNote(type, id);
  const [note, setNote] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    add.mutate(note, { onSuccess: () => setNote("") });
  };
  return (
    <section className="card" aria-label="Activities">
      <h2>Activities</h2>
      <form className="crm-note" onSubmit={submit}>
        <label className="sr-only" htmlFor={`note-${id}`}>Note</label>
        <textarea id={`note-${id}`} placeholder="Add a note…" value={note} onChange={(e) => setNote(e.target.value)} rows={2} />
        <button className="btn btn-secondary" disabled={!note.trim() || add.isPending}>Add note</button>
      </form>
      <ProblemNote error={add.error} />
      {activities.data?.length === 0 && <p className="muted">No activity yet.</p>}
      <ul className="crm-activities">
        {activities.data?.map((a) => (
          <li key={a.id}>
            <span className="tag">{a.kind}</span> <span className="muted small" title={dateTime(a.occurred_at)}>{timeAgo(a.occurred_at)}</span>
            <p>{a.body}</p>
          </li>
        ))}
      </ul>
    </section>
  );
}
