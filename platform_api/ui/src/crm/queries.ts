// The CRM through the query cache. Keys start with "crm"; a change refreshes what shows the changed record.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { crmApi, moved, type ContactFilters, type Deal, type RecordType, type Stage } from "./api";

export const crmKeys = {
  contacts: (filters: ContactFilters) => ["crm", "contacts", filters] as const,
  companies: (q: string) => ["crm", "companies", q] as const,
  deals: ["crm", "deals"] as const,
  stages: ["crm", "stages"] as const,
  record: (type: RecordType, id: string) => ["crm", type, id] as const,
  activities: (type: RecordType, id: string) => ["crm", "activities", type, id] as const,
  runs: (type: RecordType, id: string) => ["crm", "runs", type, id] as const,
};

const paged = { initialPageParam: null as string | null, getNextPageParam: (p: { next: string | null }) => p.next };

export const useContacts = (filters: ContactFilters) =>
  useInfiniteQuery({ queryKey: crmKeys.contacts(filters), queryFn: ({ pageParam }) => crmApi.contacts(filters, pageParam), ...paged });

export const useCompanies = (q: string) =>
  useInfiniteQuery({ queryKey: crmKeys.companies(q), queryFn: ({ pageParam }) => crmApi.companies(q, pageParam), ...paged });

/** Every company (for the pickers), at most 200. */
export const useCompanyChoices = () =>
  useQuery({ queryKey: ["crm", "companies", "choices"], queryFn: async () => (await crmApi.companies("", null, 200)).items, staleTime: 30_000 });

export const useStages = () => useQuery({ queryKey: crmKeys.stages, queryFn: crmApi.stages, staleTime: Infinity });

/** The board's deals: every page (200 a page) read at once. */
export const useDeals = () => useQuery({
  queryKey: crmKeys.deals,
  queryFn: async () => {
    const deals: Deal[] = [];
    let cursor: string | null = null;
    do {
      const next: { items: Deal[]; next: string | null } = await crmApi.deals({}, cursor);
      deals.push(...next.items);
      cursor = next.next;
    } while (cursor);
    return deals;
  },
});

/** Moves a deal to a stage: the board shows it there at once, and again as it was when the server refuses. */
export function useMoveDeal() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, stage }: { id: string; stage: Stage }) => crmApi.updateDeal(id, { stage }),
    onMutate: async ({ id, stage }) => {
      await client.cancelQueries({ queryKey: crmKeys.deals });
      const before = client.getQueryData<Deal[]>(crmKeys.deals);
      if (before) client.setQueryData(crmKeys.deals, moved(before, id, stage));
      return { before };
    },
    onError: (_error, _vars, context) => {
      if (context?.before) client.setQueryData(crmKeys.deals, context.before);
    },
    onSettled: (_data, _error, { id }) => {
      void client.invalidateQueries({ queryKey: crmKeys.deals });
      void client.invalidateQueries({ queryKey: crmKeys.record("deal", id) });
      void client.invalidateQueries({ queryKey: crmKeys.runs("deal", id) });
    },
  });
}

export function useRecord<T>(type: RecordType, id: string) {
  return useQuery({
    queryKey: crmKeys.record(type, id),
    queryFn: () => (type === "contact" ? crmApi.contact(id) : type === "company" ? crmApi.company(id) : crmApi.deal(id)) as Promise<T>,
  });
}

export const useActivities = (type: RecordType, id: string) =>
  useQuery({ queryKey: crmKeys.activities(type, id), queryFn: async () => (await crmApi.activities(type, id)).items });

/** The runs that touched the record; read again every 5 s while one of them has not ended. */
export const useRecordRuns = (type: RecordType, id: string) => useInfiniteQuery({
  queryKey: crmKeys.runs(type, id),
  queryFn: ({ pageParam }) => crmApi.runs(type, id, pageParam),
  ...paged,
  refetchInterval: 5_000,
});

export function useAddNote(type: RecordType, id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: string) => crmApi.addNote(type, id, body),
    onSuccess: () => client.invalidateQueries({ queryKey: crmKeys.activities(type, id) }),
  });
}
