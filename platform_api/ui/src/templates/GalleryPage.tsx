// The template gallery: categories, search, tag and integration filters, pages of cards.
import { useEffect, useState } from "react";
import { Icon } from "../components/Icon";
import type { Filters } from "./api";
import { useFacets, useTemplates } from "./queries";
import "./templates.css";
import { EmptyState, Loading } from "../components/ListState";

const INTEGRATIONS = [
  ["", "Any integration"], ["crm", "CRM"], ["sendgrid", "Email (SendGrid)"], ["twilio", "SMS (Twilio)"],
  ["x", "X"], ["mastodon", "Mastodon"], ["sql", "SQL database"],
] as const;

export function GalleryPage() {
  const [filters, setFilters] = useState<Filters>({ q: "", category: "", tags: [], integration: "", page: 1 });
  const [typed, setTyped] = useState("");
  const facets = useFacets().data;
  const { data: page, error } = useTemplates(filters);
  const problem = error?.message;
  const set = (change: Partial<Filters>) => setFilters((f) => ({ ...f, page: 1, ...change }));

  useEffect(() => {
    const timer = setTimeout(() => set({ q: typed }), 250);  // search as you type, without a request per key
    return () => clearTimeout(timer);
  }, [typed]);

  const toggleTag = (tag: string) =>
    set({ tags: filters.tags.includes(tag) ? filters.tags.filter((t) => t !== tag) : [...filters.tags, tag] });

  return (
    <main className="page gallery">
      <div className="page-head">
        <h1>Templates</h1>
        <span className="muted">Start from a proven automation, customise it, then connect your accounts.</span>
      </div>
      <div className="gallery-search row">
        <Icon name="search" />
        <input type="search" aria-label="Search templates" placeholder="Search: abandoned cart, invoice, review…"
               value={typed} onChange={(e) => setTyped(e.target.value)} />
        <select aria-label="Integration" value={filters.integration} onChange={(e) => set({ integration: e.target.value })}>
          {INTEGRATIONS.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
        </select>
      </div>
      <div className="gallery-body">
        <nav className="gallery-categories" aria-label="Categories">
          <button className={`gallery-category${filters.category === "" ? " active" : ""}`} aria-pressed={filters.category === ""}
                  onClick={() => set({ category: "" })}>
            All templates
          </button>
          {facets?.categories.map((c) => (
            <button key={c.slug} className={`gallery-category${filters.category === c.slug ? " active" : ""}`}
                    aria-pressed={filters.category === c.slug} onClick={() => set({ category: c.slug })}>
              {c.label} <span className="muted small">{c.count}</span>
            </button>
          ))}
          {!!facets?.tags.length && <div className="gallery-tags-title muted small">Tags</div>}
          <div className="gallery-tags">
            {facets?.tags.slice(0, 24).map(({ tag }) => (
              <button key={tag} className={`gallery-tag${filters.tags.includes(tag) ? " active" : ""}`}
                      aria-pressed={filters.tags.includes(tag)} onClick={() => toggleTag(tag)}>#{tag}</button>
            ))}
          </div>
        </nav>
        <section className="gallery-results" aria-live="polite" aria-label="Results">
          {problem && <div className="callout callout-error" role="alert">{problem}</div>}
          {page && <p className="muted small">{page.total} template{page.total === 1 ? "" : "s"}</p>}
          {!page && !problem && <Loading what="the templates" />}
          {page?.total === 0 && (
            <EmptyState title="No template matches" action={<a className="btn btn-secondary" href="#/">Draw a workflow instead</a>}>
              Try fewer words or another category.
            </EmptyState>
          )}
          <ul className="gallery-grid">
            {page?.items.map((t) => (
              <li key={t.slug}>
                <a className="card gallery-card" href={`#/templates/${t.slug}`}>
                  <span className="gallery-card-kicker muted small">{t.category_label}{t.private && <span className="tag">Yours</span>}</span>
                  <strong>{t.title}</strong>
                  <span className="muted small gallery-card-text">{t.description}</span>
                  <span className="gallery-card-integrations">
                    {t.integrations.map((i) => <span key={i} className="tag">{i}</span>)}
                  </span>
                </a>
              </li>
            ))}
          </ul>
          {page && page.pages > 1 && (
            <div className="row gallery-pager">
              <button className="btn btn-secondary btn-xs" disabled={filters.page <= 1}
                      onClick={() => setFilters((f) => ({ ...f, page: f.page - 1 }))}>Previous</button>
              <span className="muted small">Page {page.page} of {page.pages}</span>
              <button className="btn btn-secondary btn-xs" disabled={filters.page >= page.pages}
                      onClick={() => setFilters((f) => ({ ...f, page: f.page + 1 }))}>Next</button>
            </div>
          )}
        </section>
      </div>
    </main>
  );
}
