// The CRM (#/crm/...): contacts and companies as tables (search, filters, a page at a time), the deal pipeline as
// a board, and a page per record (#/crm/contacts/<id>, #/crm/companies/<id>, #/crm/deals/<id>).
import { useQueryClient } from "@tanstack/react-query";
import { useDeferredValue, useState, type FormEvent } from "react";
import { asProblem, FieldProblem, ProblemNote } from "../settings/ProblemNote";
import { saveBlob } from "../settings/download";
import { Modal } from "../components/Modal";
import { useToast } from "../components/Toasts";
import { dateTime, timeAgo } from "../lib/format";
import { navigate, replaceRoute } from "../lib/route";
import { contactName, crmApi, parseTags, type Company, type ContactFilters } from "./api";
import { CompanySelect } from "./CompanySelect";
import { DealsBoard } from "./DealsBoard";
import { ImportDialog } from "./ImportDialog";
import { useCompanies, useCompanyChoices, useContacts } from "./queries";
import { RecordPage } from "./RecordPage";
import "./crm.css";

const TABS = [
  { id: "contacts", label: "Contacts" },
  { id: "companies", label: "Companies" },
  { id: "deals", label: "Deals" },
] as const;

export function CrmPage({ parts, search }: { parts: string[]; search: URLSearchParams }) {
  const [, tab = "contacts", id] = parts;
  if (id && (tab === "contacts" || tab === "companies" || tab === "deals")) {
    const type = tab === "contacts" ? "contact" : tab === "companies" ? "company" : "deal";
    return <RecordPage key={`${type}-${id}`} type={type} id={id} />;
  }
  return (
    <main className="page crm-page">
      <nav className="crm-tabs" aria-label="CRM">
        {TABS.map((t) => (
          <a key={t.id} href={`#/crm/${t.id}`} className={tab === t.id ? "active" : ""} aria-current={tab === t.id ? "page" : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      {tab === "companies" ? <CompaniesTable /> : tab === "deals" ? <DealsBoard /> : <ContactsTable search={search} />}
    </main>
  );
}

function ContactsTable({ search }: { search: URLSearchParams }) {
  const [filters, setFilters] = useState<ContactFilters>({
    q: search.get("q") ?? "", tag: search.get("tag") ?? "", companyId: search.get("company") ?? "",
  });
  const deferred = useDeferredValue(filters);
  const list = useContacts(deferred);
  const companies = useCompanyChoices().data ?? [];
  const companyName = (id: string | null) => companies.find((c) => c.id === id)?.name ?? "";
  const [creating, setCreating] = useState(false);
  const [importing, setImporting] = useState(false);
  const notify = useToast();
  const change = (next: ContactFilters) => {
    setFilters(next);
    const query = new URLSearchParams();
    if (next.q) query.set("q", next.q);
    if (next.tag) query.set("tag", next.tag);
    if (next.companyId) query.set("company", next.companyId);
    replaceRoute(`/crm/contacts${query.size ? `?${query}` : ""}`);
  };
  const exportCsv = async () => {
    try {
      saveBlob(await crmApi.exportContacts(filters), "contacts.csv");
    } catch (error) {
      notify("Export failed", "error", asProblem(error)?.message);
    }
  };
  const contacts = list.data?.pages.flatMap((p) => p.items);
  const filtered = Boolean(filters.q || filters.tag || filters.companyId);
  return (
    <>
      <div className="page-head">
        <h1>Contacts</h1>
        <div className="row crm-actions">
          <button className="btn btn-secondary" onClick={() => void exportCsv()}>Export CSV</button>
          <button className="btn btn-secondary" onClick={() => setImporting(true)}>Import CSV</button>
          <button className="btn btn-primary" onClick={() => setCreating(true)}>New contact</button>
        </div>
      </div>
      <div className="crm-filters" role="search">
        <input type="search" aria-label="Search contacts" placeholder="Name, or an exact email or phone" value={filters.q}
          onChange={(e) => change({ ...filters, q: e.target.value })} />
        <input aria-label="Tag" placeholder="Tag" value={filters.tag} onChange={(e) => change({ ...filters, tag: e.target.value })} />
        <CompanySelect label="Company" empty="Any company" value={filters.companyId} onChange={(companyId) => change({ ...filters, companyId })} />
      </div>
      {list.error && <ProblemNote error={list.error} />}
      {!contacts && !list.error && <p className="muted">Loading…</p>}
      {contacts?.length === 0 && (
        <div className="empty card">
          <h2>{filtered ? "No contact matches" : "No contacts yet"}</h2>
          <p className="muted">{filtered ? "Email and phone match only whole values." : "Add one, import a CSV file, or let a workflow write them."}</p>
        </div>
      )}
      {contacts && contacts.length > 0 && (
        <div className="crm-table-wrap">
          <table className="crm-table" aria-label="Contacts">
            <thead><tr><th>Name</th><th>Email</th><th>Phone</th><th>Company</th><th>Tags</th><th>Added</th></tr></thead>
            <tbody>
              {contacts.map((c) => (
                <tr key={c.id} data-contact-id={c.id}>
                  <td><a href={`#/crm/contacts/${c.id}`}>{contactName(c)}</a>{c.test_data && <span className="tag tag-warn">test</span>}</td>
                  <td>{c.email}</td>
                  <td>{c.phone}</td>
                  <td>{c.company_id && <a href={`#/crm/companies/${c.company_id}`}>{companyName(c.company_id) || "company"}</a>}</td>
                  <td>{c.tags.map((t) => <button key={t} type="button" className="crm-tag" onClick={() => change({ ...filters, tag: t })}>{t}</button>)}</td>
                  <td title={dateTime(c.created_at)}>{timeAgo(c.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.hasNextPage && (
        <button className="btn btn-secondary load-more" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
          {list.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
      {creating && <NewContact onClose={() => setCreating(false)} />}
      {importing && <ImportDialog onClose={() => setImporting(false)} />}
    </>
  );
}

function NewContact({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const notify = useToast();
  const [form, setForm] = useState({ first_name: "", last_name: "", email: "", phone: "", company_id: "", tags: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const contact = await crmApi.createContact({
        first_name: form.first_name, last_name: form.last_name, email: form.email.trim() || null, phone: form.phone.trim() || null,
        company_id: form.company_id || null, tags: parseTags(form.tags),
      });
      await client.invalidateQueries({ queryKey: ["crm", "contacts"] });
      notify(`Added ${contactName(contact)}`, "success");
      onClose();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  const field = (name: keyof typeof form, label: string, type = "text") => (
    <label>{label}
      <input type={type} value={form[name]} onChange={(e) => setForm({ ...form, [name]: e.target.value })} />
      <FieldProblem error={error} path={name} />
    </label>
  );
  return (
    <Modal title="New contact" onClose={onClose} footer={<>
      <button className="btn btn-ghost" onClick={onClose}>Cancel</button>
      <button className="btn btn-primary" type="submit" form="new-contact" disabled={busy}>Add contact</button>
    </>}>
      <form id="new-contact" className="crm-form" noValidate onSubmit={(e) => void submit(e)}>
        {field("first_name", "First name")}
        {field("last_name", "Last name")}
        {field("email", "Email", "email")}
        {field("phone", "Phone", "tel")}
        <label>Company
          <CompanySelect label="Company" empty="No company" value={form.company_id} onChange={(company_id) => setForm({ ...form, company_id })} />
        </label>
        {field("tags", "Tags (separated by commas)")}
        <ProblemNote error={error} fields={["first_name", "last_name", "email", "phone", "tags"]} />
      </form>
    </Modal>
  );
}

function CompaniesTable() {
  const [q, setQ] = useState("");
  const deferred = useDeferredValue(q);
  const list = useCompanies(deferred);
  const [creating, setCreating] = useState(false);
  const companies = list.data?.pages.flatMap((p) => p.items);
  return (
    <>
      <div className="page-head">
        <h1>Companies</h1>
        <button className="btn btn-primary" onClick={() => setCreating(true)}>New company</button>
      </div>
      <div className="crm-filters" role="search">
        <input type="search" aria-label="Search companies" placeholder="Name or domain" value={q} onChange={(e) => setQ(e.target.value)} />
      </div>
      {list.error && <ProblemNote error={list.error} />}
      {companies?.length === 0 && <div className="empty card"><h2>{q ? "No company matches" : "No companies yet"}</h2></div>}
      {companies && companies.length > 0 && (
        <div className="crm-table-wrap">
          <table className="crm-table" aria-label="Companies">
            <thead><tr><th>Name</th><th>Domain</th><th>Contacts</th><th>Added</th></tr></thead>
            <tbody>
              {companies.map((c: Company) => (
                <tr key={c.id}>
                  <td><a href={`#/crm/companies/${c.id}`}>{c.name}</a></td>
                  <td>{c.domain}</td>
                  <td><a href={`#/crm/contacts?company=${c.id}`}>Contacts</a></td>
                  <td title={dateTime(c.created_at)}>{timeAgo(c.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.hasNextPage && (
        <button className="btn btn-secondary load-more" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>Load more</button>
      )}
      {creating && <NewCompany onClose={() => setCreating(false)} />}
    </>
  );
}

function NewCompany({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [domain, setDomain] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const company = await crmApi.createCompany({ name, domain: domain.trim() || null });
      await client.invalidateQueries({ queryKey: ["crm", "companies"] });
      onClose();
      navigate(`/crm/companies/${company.id}`);
    } catch (problem) {
      setError(problem);
    }
  };
  return (
    <Modal title="New company" onClose={onClose} footer={<>
      <button className="btn btn-ghost" onClick={onClose}>Cancel</button>
      <button className="btn btn-primary" type="submit" form="new-company">Add company</button>
    </>}>
      <form id="new-company" className="crm-form" noValidate onSubmit={(e) => void submit(e)}>
        <label>Name<input value={name} onChange={(e) => setName(e.target.value)} required /><FieldProblem error={error} path="name" /></label>
        <label>Domain<input value={domain} onChange={(e) => setDomain(e.target.value)} placeholder="example.com" /></label>
        <ProblemNote error={error} fields={["name"]} />
      </form>
    </Modal>
  );
}

