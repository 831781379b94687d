// The template catalog API (GET /api/v1/templates, preview, instantiate).
import { http, unwrap } from "../api/client";
import type { components } from "../api/schema";
import type { Graph, JsonSchema, Workflow } from "../api/types";

type Schemas = components["schemas"];

export type TemplateSummary = Schemas["TemplateSummary"];
export type TemplatePage = Schemas["TemplatePage"];
export type Facets = Schemas["FacetsRead"];
export type IntegrationStatus = Schemas["IntegrationStatus"];

export type TemplateDetail = Omit<Schemas["TemplateRead"], "parameters" | "graph" | "trigger"> & {
  parameters: JsonSchema;
  graph: Graph;
  trigger: { type: string; description: string } | null;
};

export type Instantiated = Omit<Schemas["InstantiateRead"], "workflow"> & { workflow: Workflow };

export type Instantiate = Pick<Schemas["InstantiateCreate"], "name" | "parameters" | "trigger_overrides">;
export type Update = Schemas["UpdateRead"];
export type Upgrade = Schemas["UpgradeRead"];
export type Conflict = Schemas["ConflictRead"];
export type Change = Schemas["ChangeRead"];
/** Per conflict path: keep the workflow's value or take the template's. */
export type Resolutions = Record<string, "workflow" | "template">;

export type Filters = { q: string; category: string; tags: string[]; integration: string; page: number };

export function listTemplates(filters: Filters, signal?: AbortSignal): Promise<TemplatePage> {
  const query = {
    page: filters.page, per_page: 24, q: filters.q.trim() || undefined, category: filters.category || undefined,
    integration: filters.integration || undefined, tag: filters.tags.length ? filters.tags : undefined,
  };
  return unwrap(http.GET("/api/v1/templates", { params: { query }, signal }));
}

const bySlug = (slug: string) => ({ params: { path: { slug } } });

export const catalog = {
  facets: () => unwrap(http.GET("/api/v1/templates/categories")),
  template: (slug: string) => unwrap(http.GET("/api/v1/templates/{slug}", bySlug(slug))) as Promise<TemplateDetail>,
  instantiate: (slug: string, body: Instantiate) =>
    unwrap(http.POST("/api/v1/templates/{slug}/instantiate", { ...bySlug(slug), body })) as Promise<Instantiated>,
  updates: () => unwrap(http.GET("/api/v1/templates/updates")),
  /** The three-way merge of a derived workflow with the template's latest version: shown (dry run) or saved as a draft. */
  upgrade: (workflowId: string, body: { resolutions: Resolutions; dry_run: boolean }) =>
    unwrap(http.POST("/api/v1/workflows/{workflow_id}/upgrade", { params: { path: { workflow_id: workflowId } }, body })),
};
