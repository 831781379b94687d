// Connections through the query cache: the types, the lists (all, or of one type), and the writes.
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { keys as workflowKeys } from "../api/queries";
import { connections, type Connection, type ConnectionCreate, type ConnectionUpdate } from "./api";

const keys = {
  types: ["connection-types"] as const,
  all: ["connections"] as const,
  list: (type?: string) => ["connections", "list", type ?? "all"] as const,
};

export function useConnectionTypes() {
  return useQuery({ queryKey: keys.types, queryFn: connections.types, staleTime: 5 * 60_000 });
}

/** The workspace's connections, or those of one type; refreshed when the window is back in front. */
export function useConnections(type?: string) {
  return useQuery({ queryKey: keys.list(type), queryFn: ({ signal }) => connections.list(type, signal) });
}

/** A connection as the server now has it, in the full list at once; the lists by type are read again. */
export function storeConnection(client: QueryClient, fresh: Connection): void {
  client.setQueryData<Connection[]>(keys.list(), (list) => list?.map((c) => (c.id === fresh.id ? fresh : c)));
  void client.invalidateQueries({ queryKey: keys.all });
}

const refreshAll = (client: QueryClient) => client.invalidateQueries({ queryKey: keys.all });

export function useSaveConnection(id?: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ConnectionCreate | ConnectionUpdate) =>
      id ? connections.update(id, body as ConnectionUpdate) : connections.create(body as ConnectionCreate),
    onSuccess: () => refreshAll(client),
  });
}

export function useDeleteConnection() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => connections.remove(id),
    onSuccess: (_, id) => {
      client.setQueryData<Connection[]>(keys.list(), (list) => list?.filter((c) => c.id !== id));
      return refreshAll(client);
    },
  });
}

/** Tests a connection, then reads it again for its new status. */
export function useTestConnection() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => {
      const result = await connections.test(id);
      storeConnection(client, await connections.read(id));
      return result;
    },
  });
}

export function useStartOAuth() {
  return useMutation({ mutationFn: (id: string) => connections.startOAuth(id) });
}

/** Puts a connection into every step of its type in a workflow. */
export function useConnectionIn(workflowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ type, connectionId }: { type: string; connectionId: string }) => connections.useIn(workflowId, type, connectionId),
    onSuccess: () => client.invalidateQueries({ queryKey: workflowKeys.workflow(workflowId) }),
  });
}
