// The inbox and notifications through the query cache. Keys start with "inbox" or "notifications": an answer
// refreshes the inbox and its badge; marking read refreshes the list and the bell.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { inboxApi, type Preferences } from "./api";

export const inboxKeys = {
  pending: ["inbox", "pending"] as const,
  notifications: ["notifications", "list"] as const,
  unread: ["notifications", "unread"] as const,
  preferences: ["notifications", "preferences"] as const,
};

/** Pending approvals the signed-in person may answer; the navigation's badge reads the same query. */
export const usePendingApprovals = () => useQuery({
  queryKey: inboxKeys.pending,
  queryFn: inboxApi.pending,
  refetchInterval: 30_000,
  staleTime: 10_000,
});

export function useDecideApproval() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ runId, nodeId, approve, comment }: { runId: string; nodeId: string; approve: boolean; comment: string | null }) =>
      inboxApi.decide(runId, nodeId, approve ? "approve" : "reject", comment),
    onSettled: () => client.invalidateQueries({ queryKey: ["inbox"] }), // answered, or already answered by someone
  });
}

export const useUnreadCount = () => useQuery({
  queryKey: inboxKeys.unread,
  queryFn: inboxApi.unread,
  refetchInterval: 30_000,
  staleTime: 10_000,
});

export const useNotifications = () => useQuery({ queryKey: inboxKeys.notifications, queryFn: inboxApi.notifications });

export function useMarkRead() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (id: string | "all"): Promise<void> => {
      await (id === "all" ? inboxApi.markAllRead() : inboxApi.markRead(id));
    },
    onSettled: () => client.invalidateQueries({ queryKey: ["notifications"] }),
  });
}

export const usePreferences = () => useQuery({ queryKey: inboxKeys.preferences, queryFn: inboxApi.preferences });

export function useSavePreferences() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Preferences) => inboxApi.savePreferences(body),
    onSuccess: (fresh) => client.setQueryData(inboxKeys.preferences, fresh),
  });
}
