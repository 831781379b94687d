// The Settings area through the query cache: reads, and writes that refresh what they change.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { settingsApi, type AlertRules, type AlertStatus, type ApiKeyCreate, type AuditFilters, type Role, type WorkspaceUpdate } from "./api";

export const settingsKeys = {
  me: ["me"] as const,
  workspace: ["workspace"] as const,
  members: ["members"] as const,
  invitations: ["invitations"] as const,
  apiKeys: ["api-keys"] as const,
  audit: (filters: AuditFilters) => ["audit", filters] as const,
  sessions: ["sessions"] as const,
  alerts: (status: AlertStatus) => ["alerts", status] as const,
  alertRules: ["alerts", "rules"] as const,
};

export const useMe = () => useQuery({ queryKey: settingsKeys.me, queryFn: () => settingsApi.me(), staleTime: 60_000 });

export const useWorkspace = () => useQuery({ queryKey: settingsKeys.workspace, queryFn: settingsApi.workspace });

export function useUpdateWorkspace() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: WorkspaceUpdate) => settingsApi.updateWorkspace(body),
    onSuccess: (fresh) => {
      client.setQueryData(settingsKeys.workspace, fresh);
      void client.invalidateQueries({ queryKey: settingsKeys.me });
    },
  });
}

export const useMembers = (enabled: boolean) =>
  useQuery({ queryKey: settingsKeys.members, queryFn: settingsApi.members, enabled });

export function useChangeRole() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ userId, role }: { userId: string; role: Role }) => settingsApi.changeRole(userId, role),
    onSettled: () => {
      void client.invalidateQueries({ queryKey: settingsKeys.me }); // one's own role may be the one changed
      return client.invalidateQueries({ queryKey: settingsKeys.members });
    },
  });
}

export function useRemoveMember() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (userId: string) => settingsApi.removeMember(userId),
    onSuccess: () => client.invalidateQueries({ queryKey: settingsKeys.members }),
  });
}

export function useInvite() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ email, role }: { email: string; role: Role }) => settingsApi.invite(email, role),
    onSuccess: () => client.invalidateQueries({ queryKey: settingsKeys.invitations }),
  });
}

export const useInvitations = (enabled: boolean) =>
  useQuery({ queryKey: settingsKeys.invitations, queryFn: settingsApi.invitations, enabled });

export function useWithdrawInvitation() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (invitationId: string) => settingsApi.withdraw(invitationId),
    onSuccess: () => client.invalidateQueries({ queryKey: settingsKeys.invitations }),
  });
}

export const useApiKeys = (enabled: boolean) =>
  useQuery({ queryKey: settingsKeys.apiKeys, queryFn: settingsApi.apiKeys, enabled });

export function useCreateApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ApiKeyCreate) => settingsApi.createApiKey(body),
    onSuccess: () => client.invalidateQueries({ queryKey: settingsKeys.apiKeys }),
  });
}

export function useRevokeApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (keyId: string) => settingsApi.revokeApiKey(keyId),
    onSuccess: () => client.invalidateQueries({ queryKey: settingsKeys.apiKeys }),
  });
}

/** The audit log, newest first, a page at a time (the API's X-Next-Cursor). */
export const useAudit = (filters: AuditFilters, enabled: boolean) => useInfiniteQuery({
  queryKey: settingsKeys.audit(filters),
  queryFn: ({ pageParam }) => settingsApi.audit(filters, pageParam),
  initialPageParam: null as string | null,
  getNextPageParam: (page) => page.next,
  enabled,
});

export const useSessions = () => useQuery({ queryKey: settingsKeys.sessions, queryFn: settingsApi.sessions });

export function useEndSession() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (sessionId: string) => settingsApi.endSession(sessionId),
    onSuccess: () => client.invalidateQueries({ queryKey: settingsKeys.sessions }),
  });
}

/** The workspace's open or resolved alerts, newest first, a page at a time; read again every half minute. */
export const useAlerts = (status: AlertStatus) => useInfiniteQuery({
  queryKey: settingsKeys.alerts(status),
  queryFn: ({ pageParam }) => settingsApi.alerts(status, pageParam),
  initialPageParam: null as string | null,
  getNextPageParam: (page) => page.next,
  refetchInterval: 30_000,
});

export const useAlertRules = () => useQuery({ queryKey: settingsKeys.alertRules, queryFn: settingsApi.alertRules });

export function useSaveAlertRules() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (rules: AlertRules) => settingsApi.saveAlertRules(rules),
    onSuccess: (fresh) => client.setQueryData(settingsKeys.alertRules, fresh),
  });
}
