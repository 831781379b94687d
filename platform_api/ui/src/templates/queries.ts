// The template catalog through the query cache.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { storeWorkflow } from "../api/queries";
import { keys as workflowKeys } from "../api/queries";
import { catalog, listTemplates, type Filters, type Instantiate, type Resolutions } from "./api";

const keys = {
  list: (filters: Filters) => ["templates", "list", filters] as const,
  facets: ["templates", "facets"] as const,
  template: (slug: string) => ["templates", "one", slug] as const,
  updates: ["templates", "updates"] as const,
  merge: (workflowId: string) => ["templates", "merge", workflowId] as const,
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
    mutationFn: (body: Instantiate) => catalog.instantiate(slug, body),
    onSuccess: (result) => storeWorkflow(client, result.workflow),
  });
}

/** The workspace's workflows whose template has a newer version. */
export function useUpdates() {
  return useQuery({ queryKey: keys.updates, queryFn: catalog.updates }); // asked again on each page that shows it
}

/** What upgrading would do with these resolutions (a dry run: nothing saved). */
export function useMergePreview(workflowId: string, resolutions: Resolutions, enabled = true) {
  return useQuery({
    queryKey: [...keys.merge(workflowId), resolutions],
    queryFn: () => catalog.upgrade(workflowId, { resolutions, dry_run: true }),
    placeholderData: keepPreviousData, // the chosen resolutions change the diff: the previous one stays while it loads
    retry: false, refetchOnWindowFocus: false, staleTime: 0, enabled,
  });
}

/** Applies the merge with the chosen resolutions: a new draft version; the live version keeps running. */
export function useApplyUpgrade(workflowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (resolutions: Resolutions) => catalog.upgrade(workflowId, { resolutions, dry_run: false }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.updates });
      void client.invalidateQueries({ queryKey: workflowKeys.workflow(workflowId) });
      void client.invalidateQueries({ queryKey: workflowKeys.versions(workflowId) });
    },
  });
}
