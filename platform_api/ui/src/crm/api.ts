// The CRM screens' API calls (contacts, companies, deals, activities, the runs that touched a record, CSV import
// and export) and the pure rules the screens and tests share (filters as query parameters, the import's progress
// lines, a board move).
import { authHeaders, http, unwrap } from "../api/client";
import { problemFrom } from "../api/problems";
import type { components } from "../api/schema";

type Schemas = components["schemas"];

export type Contact = Schemas["ContactRead"];
export type Company = Schemas["CompanyRead"];
export type Deal = Schemas["DealRead"];
export type Activity = Schemas["ActivityRead"];
export type RecordRun = Schemas["RecordRunRead"];
export type ImportPreview = Schemas["ImportPreview"];
export type Stage = Deal["stage"];
export type RecordType = "contact" | "company" | "deal";
export type ContactFields = Schemas["ContactUpdate"];
export type CompanyFields = Schemas["CompanyUpdate"];
export type DealFields = Schemas["DealUpdate"];

export const STAGE_LABELS: Record<Stage, string> = {
  lead: "Lead", qualified: "Qualified", proposal: "Proposal", negotiation: "Negotiation", won: "Won", lost: "Lost",
};

export const FIELD_LABELS: Record<string, string> = {
  email: "Email", first_name: "First name", last_name: "Last name", phone: "Phone", company: "Company", tags: "Tags",
};

/** The contacts list's filters, as the page keeps them in its address. */
export type ContactFilters = { q: string; tag: string; companyId: string };
export const NO_CONTACT_FILTERS: ContactFilters = { q: "", tag: "", companyId: "" };

/** The filters as the API's query parameters, unset ones left out. */
export function contactQuery(filters: ContactFilters): Record<string, string> {
  const query: Record<string, string> = {};
  if (filters.q.trim()) query.q = filters.q.trim();
  if (filters.tag.trim()) query.tag = filters.tag.trim().toLowerCase();
  if (filters.companyId) query.company_id = filters.companyId;
  return query;
}

export const contactName = (c: Pick<Contact, "first_name" | "last_name" | "email">) =>
  `${c.first_name} ${c.last_name}`.trim() || c.email || "(no name)";

/** "vip, lead" as the API's tags: trimmed, lower-case, no empties, no repeats. */
export function parseTags(text: string): string[] {
  return [...new Set(text.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean))];
}

/** One line of the import's progress stream. */
export type ImportProgress = {
  processed: number; total: number; created: number; updated: number; failed: number; done: boolean;
  errors: { line: number; field: string; message: string; hint?: string | null }[];
};

/** Splits streamed text into whole NDJSON lines; returns the parsed lines and the unfinished rest. */
export function takeLines(buffer: string): { lines: ImportProgress[]; rest: string } {
  const parts = buffer.split("\n");
  const rest = parts.pop() ?? "";
  return { lines: parts.filter((p) => p.trim()).map((p) => JSON.parse(p) as ImportProgress), rest };
}

/** The column mapping's choices: skip, a contact field, or a custom field named after the column. */
export function targetOptions(header: string, fields: string[]): { value: string; label: string }[] {
  return [
    { value: "", label: "Skip this column" },
    ...fields.map((f) => ({ value: f, label: FIELD_LABELS[f] ?? f })),
    { value: `properties.${customName(header)}`, label: `Custom field “${customName(header)}”` },
  ];
}

export const customName = (header: string) => header.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "") || "field";

/** Deals grouped by stage, in the order of `stages`; a deal in a stage not listed is left out. */
export function byStage(deals: Deal[], stages: Stage[]): Record<string, Deal[]> {
  const columns: Record<string, Deal[]> = Object.fromEntries(stages.map((s) => [s, []]));
  for (const deal of deals) columns[deal.stage]?.push(deal);
  return columns;
}

/** The board after a move, before the server answers (the card in its new column, first). */
export function moved(deals: Deal[], id: string, stage: Stage): Deal[] {
  const deal = deals.find((d) => d.id === id);
  if (!deal || deal.stage === stage) return deals;
  return [{ ...deal, stage }, ...deals.filter((d) => d.id !== id)];
}

type Page<T> = { items: T[]; next: string | null };
const page = async <T,>(call: Promise<{ data?: T[]; error?: unknown; response: Response }>): Promise<Page<T>> => {
  const items = await unwrap(call);
  return { items, next: (await call).response.headers.get("X-Next-Cursor") };
};
const id = (name: string, value: string) => ({ path: { [name]: value } });

const RUNS_PATH = { contact: "/api/v1/crm/contacts/{contact_id}/runs", company: "/api/v1/crm/companies/{company_id}/runs", deal: "/api/v1/crm/deals/{deal_id}/runs" } as const;

export const crmApi = {
  contacts: (filters: ContactFilters, cursor: string | null, limit = 50) =>
    page(http.GET("/api/v1/crm/contacts", { params: { query: { ...contactQuery(filters), limit, ...(cursor ? { cursor } : {}) } } })),
  contact: (contactId: string) => unwrap(http.GET("/api/v1/crm/contacts/{contact_id}", { params: id("contact_id", contactId) as never })) as Promise<Contact>,
  createContact: (body: Schemas["ContactCreate"]) => unwrap(http.POST("/api/v1/crm/contacts", { body })) as Promise<Contact>,
  updateContact: (contactId: string, body: ContactFields) =>
    unwrap(http.PATCH("/api/v1/crm/contacts/{contact_id}", { params: id("contact_id", contactId) as never, body })) as Promise<Contact>,
  companies: (q: string, cursor: string | null, limit = 50) =>
    page(http.GET("/api/v1/crm/companies", { params: { query: { ...(q.trim() ? { q: q.trim() } : {}), limit, ...(cursor ? { cursor } : {}) } } })),
  company: (companyId: string) => unwrap(http.GET("/api/v1/crm/companies/{company_id}", { params: id("company_id", companyId) as never })) as Promise<Company>,
  createCompany: (body: Schemas["CompanyCreate"]) => unwrap(http.POST("/api/v1/crm/companies", { body })) as Promise<Company>,
  updateCompany: (companyId: string, body: CompanyFields) =>
    unwrap(http.PATCH("/api/v1/crm/companies/{company_id}", { params: id("company_id", companyId) as never, body })) as Promise<Company>,
  stages: () => unwrap(http.GET("/api/v1/crm/deal-stages")) as Promise<Stage[]>,
  deals: (query: { q?: string; stage?: Stage; company_id?: string; contact_id?: string }, cursor: string | null, limit = 200) =>
    page(http.GET("/api/v1/crm/deals", { params: { query: { ...query, limit, ...(cursor ? { cursor } : {}) } } })),
  deal: (dealId: string) => unwrap(http.GET("/api/v1/crm/deals/{deal_id}", { params: id("deal_id", dealId) as never })) as Promise<Deal>,
  createDeal: (body: Schemas["DealCreate"]) => unwrap(http.POST("/api/v1/crm/deals", { body })) as Promise<Deal>,
  /** The same PATCH as the API's: the change writes its outbox row, so data-change triggers fire. */
  updateDeal: (dealId: string, body: DealFields) =>
    unwrap(http.PATCH("/api/v1/crm/deals/{deal_id}", { params: id("deal_id", dealId) as never, body })) as Promise<Deal>,
  activities: (type: RecordType, recordId: string) =>
    page(http.GET("/api/v1/crm/activities", { params: { query: { [`${type}_id`]: recordId, limit: 100 } } })),
  addNote: (type: RecordType, recordId: string, body: string) =>
    unwrap(http.POST("/api/v1/crm/activities", { body: { kind: "note", body, [`${type}_id`]: recordId } })) as Promise<Activity>,
  runs: (type: RecordType, recordId: string, cursor: string | null) =>
    page(http.GET(RUNS_PATH[type], { params: { path: { [`${type}_id`]: recordId }, query: { limit: 20, ...(cursor ? { cursor } : {}) } } } as never)) as Promise<Page<RecordRun>>,
  preview: (file: File) => {
    const form = new FormData();
    form.append("file", file);
    return unwrap(http.POST("/api/v1/crm/contacts/import/preview", { body: form as never, bodySerializer: (b) => b as unknown as FormData })) as Promise<ImportPreview>;
  },
  /** Imports `file` with `columns`; `onProgress` hears each streamed line. Problems (a refused file) throw. */
  importContacts: async (file: File, columns: (string | null)[], onProgress: (p: ImportProgress) => void): Promise<ImportProgress | null> => {
    const form = new FormData();
    form.append("file", file);
    form.append("columns", JSON.stringify(columns));
    const response = await fetch("/api/v1/crm/contacts/import", { method: "POST", body: form, headers: authHeaders() });
    if (!response.ok || !response.body) {
      const body = await response.json().catch(() => null);
      throw problemFrom(response.status, response.statusText, body);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let last: ImportProgress | null = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const { lines, rest } = takeLines(buffer + value);
      buffer = rest;
      for (const line of lines) {
        last = line;
        onProgress(line);
      }
    }
    return last;
  },
  /** The contacts of `filters` as a CSV file. */
  exportContacts: async (filters: ContactFilters): Promise<Blob> => {
    const query = new URLSearchParams(contactQuery(filters));
    const response = await fetch(`/api/v1/crm/contacts/export?${query}`, { headers: authHeaders() });
    if (!response.ok) throw problemFrom(response.status, response.statusText, await response.json().catch(() => null));
    return response.blob();
  },
};
