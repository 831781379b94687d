// Workflow files (docs/workflow-files.md) as the builder shows them: the format of a chosen file, the name a
// downloaded export gets, and the texts of an import's answer (what it does, what changes, what to set up after).
import type { components } from "../api/schema";

export type ImportResult = components["schemas"]["ImportResult"];
export type GraphDiff = components["schemas"]["GraphDiff"];
export type SetupStep = components["schemas"]["SetupStep"];

/** The `format` query value of the export and import calls. */
export type FileFormat = "flowyard" | "yaml" | "bpmn";

export const CONTENT_TYPES: Record<FileFormat, string> = {
  flowyard: "application/json",
  yaml: "application/yaml",
  bpmn: "application/xml",
};

export const EXTENSIONS: Record<FileFormat, string> = { flowyard: "json", yaml: "yaml", bpmn: "bpmn" };

/** What the file picker offers. */
export const ACCEPTED_FILES = ".json,.yaml,.yml,.bpmn,.xml";

const BY_EXTENSION: Record<string, FileFormat> = {
  json: "flowyard", yaml: "yaml", yml: "yaml", bpmn: "bpmn", xml: "bpmn",
};

/** The format of a file by its extension (case-insensitive), or null when it is none of ours. */
export function formatOf(fileName: string): FileFormat | null {
  const match = /\.([^./\\]+)$/.exec(fileName.trim());
  return match ? BY_EXTENSION[match[1].toLowerCase()] ?? null : null;
}

/** The file name of a Content-Disposition header (`attachment; filename="welcome.yaml"`), if it names one. */
export function fileNameFromDisposition(header: string | null | undefined): string | null {
  if (!header) return null;
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(header);
  if (star) {
    try {
      return cleanName(decodeURIComponent(star[1].trim().replace(/^"|"$/g, "")));
    } catch {
      // fall back to the plain filename
    }
  }
  const plain = /filename\s*=\s*("([^"]*)"|[^;]+)/i.exec(header);
  return plain ? cleanName((plain[2] ?? plain[1]).trim()) : null;
}

/** A name safe to save under: no folders, not empty. */
function cleanName(name: string): string | null {
  const base = name.split(/[/\\]/).pop()?.trim() ?? "";
  return base && base !== "." && base !== ".." ? base : null;
}

/** `<key>.<ext>` for an exported workflow: the key the server gave (its file name, or the JSON document's key),
 * else the workflow's slug. */
export function exportFileName(format: FileFormat, fallbackKey: string, serverName?: string | null, document?: unknown): string {
  const ext = EXTENSIONS[format];
  if (serverName && serverName.toLowerCase().endsWith(`.${ext}`)) return serverName;
  const key = documentKey(document) ?? serverName?.replace(/\.[^.]+$/, "");
  return `${key || fallbackKey || "workflow"}.${ext}`;
}

/** The `key` of a parsed workflow document, if it has one. */
export function documentKey(document: unknown): string | null {
  if (typeof document !== "object" || document === null) return null;
  const key = (document as { key?: unknown }).key;
  return typeof key === "string" && key ? key : null;
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** "3 steps added, 1 removed, 2 changed; 1 connection added; the trigger changed", or "no changes". */
export function diffSummary(diff: GraphDiff | null | undefined): string {
  if (!diff || diff.unchanged) return "no changes to the steps";
  const steps = [
    [diff.nodes_added?.length ?? 0, "added"],
    [diff.nodes_removed?.length ?? 0, "removed"],
    [diff.nodes_changed?.length ?? 0, "changed"],
    [diff.nodes_moved?.length ?? 0, "moved"],
  ] as const;
  const edges = [
    [diff.edges_added?.length ?? 0, "added"],
    [diff.edges_removed?.length ?? 0, "removed"],
    [diff.edges_changed?.length ?? 0, "changed"],
  ] as const;
  const parts: string[] = [];
  const group = (counts: readonly (readonly [number, string])[], noun: string) => {
    const present = counts.filter(([n]) => n > 0);
    if (!present.length) return;
    parts.push(present.map(([n, what], i) => (i === 0 ? `${plural(n, noun)} ${what}` : `${n} ${what}`)).join(", "));
  };
  group(steps, "step");
  group(edges, "connection");
  if (diff.trigger) parts.push(`the trigger ${diff.trigger.change === "changed" ? "settings changed" : `was ${diff.trigger.change}`}`);
  return parts.length ? parts.join("; ") : "no changes to the steps";
}

const FIELD_LABELS: Record<string, string> = {
  graph: "steps", name: "name", description: "description", tags: "tags",
  conflict_policy: "overlapping runs setting", max_parallel: "parallel runs limit",
};

/** One sentence: what the import does (or, for a dry run, would do). */
export function actionSummary(result: ImportResult): string {
  const would = result.dry_run;
  if (result.action === "create") {
    const added = result.diff?.nodes_added?.length ?? 0;
    return `${would ? "Will create" : "Created"} a new workflow (key ${result.key}) with ${plural(added, "step")}.`;
  }
  if (result.action === "unchanged") return `The workflow ${result.key} is already up to date: nothing ${would ? "will change" : "changed"}.`;
  const fields = (result.changed ?? []).filter((f) => f !== "graph").map((f) => FIELD_LABELS[f] ?? f);
  const graph = (result.changed ?? []).includes("graph") || (result.diff && !result.diff.unchanged);
  const what = [graph ? diffSummary(result.diff) : "", fields.length ? `${fields.join(", ")} changed` : ""].filter(Boolean).join("; ");
  const version = result.version ? ` as version ${result.version}` : "";
  return `${would ? "Will update" : "Updated"} the workflow ${result.key}${graph ? version : ""}${what ? `: ${what}` : ""}.`;
}

/** Whether the file is a workspace file (`flowyard export` / Export all: `format: flowyard.workspace`), which
 * imports through POST /workspace/import. Only JSON and YAML files can be. */
export function isWorkspaceFile(text: string, format: FileFormat): boolean {
  if (format === "yaml") return /^format:\s*["']?flowyard\.workspace["']?\s*(#.*)?$/m.test(text);
  if (format !== "flowyard") return false;
  try {
    const document: unknown = JSON.parse(text);
    return typeof document === "object" && document !== null && (document as { format?: unknown }).format === "flowyard.workspace";
  } catch {
    return false; // the API says what is wrong with it
  }
}

/** One sentence for a workspace file's answers: "Will create 2 workflows and update 1; 3 are up to date." */
export function workspaceSummary(results: ImportResult[], dryRun: boolean): string {
  const count = (action: ImportResult["action"]) => results.filter((r) => r.action === action).length;
  const [created, updated, unchanged] = [count("create"), count("update"), count("unchanged")];
  if (!results.length) return "The file has no workflows.";
  const verbs = [
    created ? `${dryRun ? "create" : "created"} ${plural(created, "workflow")}` : "",
    updated ? `${dryRun ? "update" : "updated"} ${created ? updated : plural(updated, "workflow")}` : "",
  ].filter(Boolean);
  const done = verbs.length ? `${dryRun ? "Will " : ""}${verbs.join(" and ")}` : "";
  const same = unchanged ? `${unchanged === 1 ? "1 is" : `${unchanged} are`} already up to date` : "";
  const text = [done, same].filter(Boolean).join("; ");
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

const KNOWN_TYPES: Record<string, string> = {
  sendgrid: "SendGrid", twilio: "Twilio", hubspot: "HubSpot", salesforce: "Salesforce", slack: "Slack",
  mailchimp: "Mailchimp", x: "X", linkedin: "LinkedIn", facebook: "Facebook", instagram: "Instagram",
  postgres: "PostgreSQL", mysql: "MySQL", http: "HTTP",
};

/** "Create a SendGrid connection named Main", or, for an emptied secret, "Fill in the secret at <path>". */
export function setupText(step: SetupStep, typeLabel?: (type: string) => string | undefined): string {
  if (step.type === "secret") return `Fill in the secret value at ${step.name}`;
  const label = typeLabel?.(step.type) ?? KNOWN_TYPES[step.type] ?? step.type.charAt(0).toUpperCase() + step.type.slice(1);
  return `Create ${/^[aeiou]/i.test(label) ? "an" : "a"} ${label} connection named ${step.name}`;
}
