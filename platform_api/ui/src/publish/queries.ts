// Publish requests through the query cache. Every key starts with "publish-requests": a decision (or a new request
// sent from the editor) refreshes the lists, the request and the navigation's badge at once.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { keys } from "../api/queries";
import { showSecret } from "../triggers/api";
import { publishApi, type RequestStatus } from "./api";

export const publishKeys = {
  all: ["publish-requests"] as const,
  list: (status: RequestStatus | "all") => ["publish-requests", "list", status] as const,
  badge: ["publish-requests", "badge"] as const,
  one: (id: string) => ["publish-requests", "one", id] as const,
};

/** After a request was made or decided: lists, badge and the workflow (live version, state) are read again. */
export function refreshAfterRequest(client: QueryClient, workflowId?: string): void {
  void client.invalidateQueries({ queryKey: publishKeys.all });
  if (workflowId) void client.invalidateQueries({ queryKey: keys.workflow(workflowId), exact: true });
  void client.invalidateQueries({ queryKey: keys.workflows, exact: true });
}

export const useRequests = (status: RequestStatus | "all") => useInfiniteQuery({
  queryKey: publishKeys.list(status),
  queryFn: ({ pageParam }) => publishApi.list(status, pageParam),
  initialPageParam: null as string | null,
  getNextPageParam: (page) => page.next,
});

/** The pending requests for the navigation's badge (owners and admins), read again every minute. */
export const usePendingBadge = (enabled: boolean) => useQuery({
  queryKey: publishKeys.badge,
  queryFn: () => publishApi.list("pending", null),
  enabled,
  refetchInterval: 60_000,
  staleTime: 30_000,
});

export const useRequest = (id: string) => useQuery({ queryKey: publishKeys.one(id), queryFn: () => publishApi.read(id) });

export function useDecide(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async ({ approve, comment }: { approve: boolean; comment: string | null }) => {
      if (!approve) return publishApi.reject(id, comment);
      // The secret of a webhook this approval created goes to the one-time dialog, never into a query cache.
      const { webhook_secret: secret, ...fresh } = await publishApi.approve(id, comment);
      if (secret) showSecret(fresh.workflow_id, { secret, why: "approved" });
      return fresh;
    },
    onSuccess: (fresh) => {
      client.setQueryData(publishKeys.one(id), fresh);
      refreshAfterRequest(client, fresh.workflow_id);
    },
    // e.g. 409 stale or already decided: show the request as it is now
    onError: () => client.invalidateQueries({ queryKey: publishKeys.all }),
  });
}
