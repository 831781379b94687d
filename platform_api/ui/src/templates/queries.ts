// The template catalog through the query cache.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { storeWorkflow } from "../api/queries";
import { catalog, listTemplates, type Filters } from "./api";

const keys = {
  list: (filters: Filters) => ["templates", "list", filters] as const,
  facets: ["templates", "facets"] as const,
  template: (slug: string) => ["templates", "one", slug] as const,
};

/** A page of templates; the previous page stays shown while the next one loads. */
export function useTemplates(filters: Filters) {
  return useQuery({
    queryKey: keys.list(filters),
    queryFn: ({ signal }) => listTemplates(filters, signal),
    placeholderData: keepPreviousData,
  });
}

export function useFacets() {
  return useQuery({ queryKey: keys.facets, queryFn: catalog.facets, staleTime: 5 * 60_000 });
}

export function useTemplate(slug: string) {
  return useQuery({ queryKey: keys.template(slug), queryFn: () => catalog.template(slug) });
}

export function useInstantiate(slug: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; parameters: Record<string, unknown> }) => catalog.instantiate(slug, body),
    onSuccess: (result) => storeWorkflow(client, result.workflow),
  });
}
