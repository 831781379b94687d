// Maps validation error paths ("nodes[2].config.url") to the node and the field they concern.
import type { Graph, GraphError } from "../api/types";

export type IndexedErrors = {
  byNode: Map<string, GraphError[]>;
  byField: Map<string, Map<string, GraphError[]>>;
  general: GraphError[];
  all: GraphError[];
};

const NODE_PATH = /^nodes\[(\d+)\](?:\.(\w+))?(?:\.([^.[]+))?/;

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  map.set(key, [...(map.get(key) ?? []), value]);
}

export function indexErrors(errors: GraphError[], graph: Graph): IndexedErrors {
  const result: IndexedErrors = { byNode: new Map(), byField: new Map(), general: [], all: errors };
  for (const error of errors) {
    const match = NODE_PATH.exec(error.path);
    const node = match ? graph.nodes[Number(match[1])] : undefined;
    if (!node) {
      result.general.push(error);
      continue;
    }
    push(result.byNode, node.id, error);
    if (match?.[2] === "config" && match[3]) {
      const fields = result.byField.get(node.id) ?? new Map<string, GraphError[]>();
      push(fields, match[3], error);
      result.byField.set(node.id, fields);
    }
  }
  return result;
}

export const NO_ERRORS: IndexedErrors = { byNode: new Map(), byField: new Map(), general: [], all: [] };
