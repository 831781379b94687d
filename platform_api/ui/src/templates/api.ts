// The template catalog API (GET /api/v1/templates, preview, instantiate).
import { request } from "../api/client";
import type { Graph, JsonSchema, Workflow } from "../api/types";

export type TemplateSummary = {
  slug: string;
  title: string;
  description: string;
  category: string;
  category_label: string;
  tags: string[];
  integrations: string[];
  version: number;
  private: boolean;
  updated_at: string;
};

export type TemplatePage = { items: TemplateSummary[]; total: number; page: number; per_page: number; pages: number };

export type Facets = {
  categories: { slug: string; label: string; count: number }[];
  tags: { tag: string; count: number }[];
};

export type IntegrationStatus = {
  type: string;
  label: string;
  built_in: boolean;
  connected: boolean;
  connections: { id: string; name: string; status: string }[];
  how_to_connect: string | null;
  docs_url: string | null;
};

export type ParameterSchema = JsonSchema;

export type TemplateDetail = TemplateSummary & {
  parameters: ParameterSchema;
  graph: Graph;
  required_integrations: IntegrationStatus[];
  trigger: { type: string; description: string } | null;
  changelog: { version: number; date: string; changes: string }[];
  versions: number[];
};

export type Instantiated = {
  workflow: Workflow;
  template: { slug: string; version: number };
  integrations: IntegrationStatus[];
  unbound_steps: { node_id: string; connection_type: string }[];
  setup_complete: boolean;
  next_steps: string[];
};

export type Filters = { q: string; category: string; tags: string[]; integration: string; page: number };

export function listTemplates(filters: Filters, signal?: AbortSignal): Promise<TemplatePage> {
  const query = new URLSearchParams({ page: String(filters.page), per_page: "24" });
  if (filters.q.trim()) query.set("q", filters.q.trim());
  if (filters.category) query.set("category", filters.category);
  if (filters.integration) query.set("integration", filters.integration);
  filters.tags.forEach((tag) => query.append("tag", tag));
  return request<TemplatePage>("GET", `/templates?${query}`, undefined, signal);
}

export const catalog = {
  facets: () => request<Facets>("GET", "/templates/categories"),
  template: (slug: string) => request<TemplateDetail>("GET", `/templates/${encodeURIComponent(slug)}`),
  instantiate: (slug: string, body: { name: string; parameters: Record<string, unknown> }) =>
    request<Instantiated>("POST", `/templates/${encodeURIComponent(slug)}/instantiate`, body),
};
