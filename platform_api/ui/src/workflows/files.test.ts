import { describe, expect, it } from "vitest";
import {
  actionSummary, diffSummary, exportFileName, fileNameFromDisposition, formatOf, isWorkspaceFile, setupText, workspaceSummary,
  type GraphDiff, type ImportResult,
} from "./files";

const node = (id: string) => ({ id, label: id, type: "util.log" });
const edge = (id: string) => ({ id, source: "a", target: "b" });

describe("formatOf", () => {
  it("tells the format from the extension, whatever its case", () => {
    expect(formatOf("welcome.json")).toBe("flowyard");
    expect(formatOf("welcome.yaml")).toBe("yaml");
    expect(formatOf("Welcome.YML")).toBe("yaml");
    expect(formatOf("process.bpmn")).toBe("bpmn");
    expect(formatOf("process.v2.xml")).toBe("bpmn");
  });

  it("refuses other files and names without an extension", () => {
    expect(formatOf("notes.txt")).toBeNull();
    expect(formatOf("yaml")).toBeNull();
    expect(formatOf("archive.yaml.zip")).toBeNull();
    expect(formatOf("")).toBeNull();
  });
});

describe("file names of exports", () => {
  it("reads the server's Content-Disposition", () => {
    expect(fileNameFromDisposition('attachment; filename="welcome-leads.yaml"')).toBe("welcome-leads.yaml");
    expect(fileNameFromDisposition("attachment; filename=plain.json")).toBe("plain.json");
    expect(fileNameFromDisposition("attachment; filename*=UTF-8''caf%C3%A9.bpmn")).toBe("café.bpmn");
    expect(fileNameFromDisposition('attachment; filename="../../etc/passwd"')).toBe("passwd");
    expect(fileNameFromDisposition("inline")).toBeNull();
    expect(fileNameFromDisposition(null)).toBeNull();
  });

  it("names the file <key>.<ext>: the server's name, else the document's key, else the slug", () => {
    expect(exportFileName("yaml", "slug", "welcome.yaml")).toBe("welcome.yaml");
    expect(exportFileName("flowyard", "slug", null, { key: "welcome" })).toBe("welcome.json");
    expect(exportFileName("bpmn", "welcome-leads")).toBe("welcome-leads.bpmn");
    expect(exportFileName("yaml", "slug", "welcome.json")).toBe("welcome.yaml");
    expect(exportFileName("yaml", "")).toBe("workflow.yaml");
  });
});

describe("diffSummary", () => {
  it("counts steps and connections added, removed, changed", () => {
    const diff: GraphDiff = {
      unchanged: false, nodes_added: [node("a"), node("b")], nodes_removed: [node("c")], nodes_changed: [{ ...node("d"), fields: [] }],
      edges_added: [edge("e1")], edges_removed: [], edges_changed: [],
    };
    expect(diffSummary(diff)).toBe("2 steps added, 1 removed, 1 changed; 1 connection added");
  });

  it("says one step, a trigger change, and nothing when nothing differs", () => {
    expect(diffSummary({ unchanged: false, nodes_changed: [{ ...node("a"), fields: [] }] })).toBe("1 step changed");
    expect(diffSummary({ unchanged: false, trigger: { change: "replaced", before: "trigger.manual", after: "trigger.webhook" } }))
      .toBe("the trigger was replaced");
    expect(diffSummary({ unchanged: true })).toBe("no changes to the steps");
    expect(diffSummary(null)).toBe("no changes to the steps");
  });
});

describe("actionSummary", () => {
  const base: ImportResult = { key: "welcome", action: "create", dry_run: true, workflow_id: null, version: 1, diff: null };

  it("tells a create with its steps", () => {
    const result = { ...base, diff: { unchanged: false, nodes_added: [node("a"), node("b"), node("c")] } };
    expect(actionSummary(result)).toBe("Will create a new workflow (key welcome) with 3 steps.");
    expect(actionSummary({ ...result, dry_run: false })).toBe("Created a new workflow (key welcome) with 3 steps.");
  });

  it("tells an update: the steps and the fields that change", () => {
    const result: ImportResult = {
      ...base, action: "update", version: 4, changed: ["graph", "tags"],
      diff: { unchanged: false, nodes_changed: [{ ...node("a"), fields: [] }] },
    };
    expect(actionSummary(result)).toBe("Will update the workflow welcome as version 4: 1 step changed; tags changed.");
    expect(actionSummary({ ...result, changed: ["name"], diff: { unchanged: true } })).toBe("Will update the workflow welcome: name changed.");
  });

  it("tells an unchanged workflow", () => {
    expect(actionSummary({ ...base, action: "unchanged" })).toBe("The workflow welcome is already up to date: nothing will change.");
  });
});

describe("setupText", () => {
  it("names the connection to create, by its type's label", () => {
    expect(setupText({ type: "sendgrid", name: "Main", hint: "" })).toBe("Create a SendGrid connection named Main");
    expect(setupText({ type: "acme", name: "Ops", hint: "" })).toBe("Create an Acme connection named Ops");
    expect(setupText({ type: "twilio", name: "SMS", hint: "" }, () => "Twilio SMS")).toBe("Create a Twilio SMS connection named SMS");
  });

  it("points at an emptied secret", () => {
    expect(setupText({ type: "secret", name: "graph.nodes[2].config.headers.Authorization", hint: "" }))
      .toBe("Fill in the secret value at graph.nodes[2].config.headers.Authorization");
  });
});

describe("workspace files", () => {
  it("tells a workspace file from a workflow file", () => {
    expect(isWorkspaceFile("format: flowyard.workspace\nformat_version: 1\nworkflows: []\n", "yaml")).toBe(true);
    expect(isWorkspaceFile("workflows:\n- format: flowyard.workspace\nformat: flowyard.workflow\n", "yaml")).toBe(false);
    expect(isWorkspaceFile('{"format": "flowyard.workspace", "workflows": []}', "flowyard")).toBe(true);
    expect(isWorkspaceFile('{"format": "flowyard.workflow", "key": "a"}', "flowyard")).toBe(false);
    expect(isWorkspaceFile("{not json", "flowyard")).toBe(false);
    expect(isWorkspaceFile("format: flowyard.workspace", "bpmn")).toBe(false);
  });

  it("sums up what a workspace import does", () => {
    const result = (action: ImportResult["action"]): ImportResult =>
      ({ key: "k", action, dry_run: true, workflow_id: null, version: 1, diff: null });
    const all = [result("create"), result("create"), result("update"), result("unchanged")];
    expect(workspaceSummary(all, true)).toBe("Will create 2 workflows and update 1; 1 is already up to date.");
    expect(workspaceSummary(all, false)).toBe("Created 2 workflows and updated 1; 1 is already up to date.");
    expect(workspaceSummary([result("update")], true)).toBe("Will update 1 workflow.");
    expect(workspaceSummary([result("unchanged"), result("unchanged")], true)).toBe("2 are already up to date.");
    expect(workspaceSummary([], true)).toBe("The file has no workflows.");
  });
});
