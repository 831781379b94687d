// What a step's templates can read: the trigger's fields and the outputs of the steps before it.
import type { Edge } from "@xyflow/react";
import type { Step } from "../api/types";
import { upstreamIds, type StepNode, type TypeMap } from "../lib/graph";

export type Reference = { expression: string; path: string; example: unknown };
export type ReferenceGroup = { title: string; references: Reference[] };

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function flatten(value: unknown, base: string, depth = 2): Reference[] {
  if (!isObject(value) || depth === 0) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const path = IDENTIFIER.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
    const own = { expression: `{{ ${path} }}`, path, example: child };
    return [own, ...flatten(child, path, depth - 1)];
  });
}

/** The data a node will output: the last test run's output, else its configured fields, else the type's sample. */
function likelyOutput(node: StepNode, types: TypeMap, steps: Map<string, Step>): unknown {
  const ran = steps.get(node.id)?.output;
  if (isObject(ran)) return ran;
  const type = types.get(node.data.type);
  if (type?.is_trigger && isObject(node.data.config.sample)) return node.data.config.sample;
  if (isObject(node.data.config.fields)) return node.data.config.fields;
  return type?.sample_output ?? {};
}

export function buildReferences(
  nodeId: string, nodes: StepNode[], edges: Edge[], types: TypeMap, steps: Map<string, Step>,
): ReferenceGroup[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const upstream = upstreamIds(nodeId, edges).map((id) => byId.get(id)).filter((n): n is StepNode => !!n);
  const trigger = nodes.find((n) => types.get(n.data.type)?.is_trigger);
  const groups: ReferenceGroup[] = [];
  if (trigger) {
    groups.push({ title: `Trigger · ${trigger.data.label || "trigger"}`, references: flatten(likelyOutput(trigger, types, steps), "trigger") });
  }
  for (const node of upstream.filter((n) => n !== trigger)) {
    const references = flatten(likelyOutput(node, types, steps), `steps.${node.id}.output`);
    groups.push({ title: node.data.label || node.id, references });
  }
  return groups.filter((g) => g.references.length > 0);
}
