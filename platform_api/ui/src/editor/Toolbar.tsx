// The editor's top bar: name, state, history and layout actions, problems, versions, save, test, publish.
import { useState } from "react";
import type { Graph, Workflow } from "../api/types";
import { Icon } from "../components/Icon";
import { StatusPill } from "../components/StatusPill";
import type { IndexedErrors } from "../lib/errors";
import { navigate } from "../lib/route";
import { ExportMenu } from "./ExportMenu";
import { ProblemsMenu } from "./ProblemsMenu";
import { VersionsMenu } from "./VersionsMenu";
import { WorkflowSettingsButton } from "./WorkflowSettingsDialog";

type Props = {
  workflow: Workflow;
  name: string;
  onName: (name: string) => void;
  dirty: boolean;
  busy: string;
  readOnly: boolean;
  /** Publishing this workflow needs approval the person cannot give: the button asks for it. */
  requestsApproval?: boolean;
  errors: IndexedErrors;
  checking: string;
  canUndo: boolean;
  canRedo: boolean;
  labelOf: (id: string) => string;
  on: {
    undo: () => void; redo: () => void; layout: () => void; save: () => void; publish: () => void; test: () => void;
    pickProblem: (nodeId: string) => void; openVersion: (graph: Graph, version: number) => void;
    /** The workflow changed on the server (a version restored): load its latest version. */
    reload: () => Promise<unknown>;
    /** Find-a-step (Ctrl-K) and the keyboard shortcuts help (?). */
    find: () => void; help: () => void;
  };
};

function problemsText(count: number, checking: string): string {
  if (checking === "unreachable") return "Can't check right now";
  if (count) return `${count} problem${count > 1 ? "s" : ""}`;
  return checking === "checking" ? "Checking…" : "No problems";
}

export function Toolbar({ workflow, name, onName, dirty, busy, readOnly, requestsApproval, errors, checking, canUndo, canRedo, labelOf, on }: Props) {
  const [menu, setMenu] = useState<"" | "problems" | "versions">("");
  const toggle = (m: typeof menu) => setMenu(menu === m ? "" : m);
  const count = errors.all.length;
  const blocked = count > 0 ? `Fix ${count} problem${count > 1 ? "s" : ""} first: ${errors.all[0].message}` : "";
  return (
    <header className="toolbar">
      <button className="btn btn-ghost btn-icon" onClick={() => navigate("/")} aria-label="Back to workflows"><Icon name="back" /></button>
      <input className="name-input" value={name} onChange={(e) => onName(e.target.value)} aria-label="Workflow name" readOnly={readOnly} />
      <StatusPill status={workflow.status} />
      <span className="muted small save-state hide-narrow" data-testid="save-state">
        {dirty ? "Unsaved changes" : `Version ${workflow.version}${workflow.published_version ? ` · live: v${workflow.published_version}` : ""}`}
      </span>
      <div className="toolbar-spacer" />
      {!readOnly && (
        <div className="btn-group">
          <button className="btn btn-ghost btn-icon" onClick={on.undo} disabled={!canUndo} title="Undo (Ctrl+Z)" aria-label="Undo"><Icon name="undo" /></button>
          <button className="btn btn-ghost btn-icon" onClick={on.redo} disabled={!canRedo} title="Redo (Ctrl+Shift+Z)" aria-label="Redo"><Icon name="redo" /></button>
          <button className="btn btn-ghost btn-icon hide-narrow" onClick={on.layout} title="Tidy up the layout (Ctrl+Shift+L)" aria-label="Auto-layout"><Icon name="layout" /></button>
        </div>
      )}
      <div className="btn-group">
        <button className="btn btn-ghost btn-icon" onClick={on.find} title="Find a step (Ctrl+K)" aria-label="Find a step" aria-keyshortcuts="Control+K Meta+K"><Icon name="search" /></button>
        <button className="btn btn-ghost btn-icon hide-narrow" onClick={on.help} title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts" aria-keyshortcuts="Shift+?"><Icon name="help" /></button>
      </div>
      <div className="menu-anchor">
        <button className={`btn btn-chip ${count ? "chip-error" : checking === "done" ? "chip-ok" : ""}`}
          onClick={() => toggle("problems")} disabled={!count} data-testid="problems">
          <Icon name={count ? "alert" : "check"} size={15} /> {problemsText(count, checking)}
        </button>
        {menu === "problems" && count > 0 && (
          <ProblemsMenu errors={errors} labelOf={labelOf} onPick={(id) => { setMenu(""); on.pickProblem(id); }} />
        )}
      </div>
      <div className="menu-anchor">
        <button className="btn btn-ghost" onClick={() => toggle("versions")} aria-expanded={menu === "versions"} aria-label="Versions">
          <Icon name="history" size={16} /> <span className="hide-narrow">Versions</span>
        </button>
        {menu === "versions" && (
          <VersionsMenu workflowId={workflow.id} current={workflow.version} published={workflow.published_version} dirty={dirty}
            onOpen={(graph, version) => { setMenu(""); on.openVersion(graph, version); }} onRestored={on.reload} />
        )}
      </div>
      <ExportMenu workflow={workflow} dirty={dirty} />
      {!readOnly && <WorkflowSettingsButton workflow={workflow} />}
      {!readOnly && (
        <>
          <button className="btn btn-secondary" onClick={on.save} disabled={!dirty || !!busy}>
            {busy === "saving" ? "Saving…" : dirty ? "Save" : "Saved"}
          </button>
          <button className="btn btn-secondary" onClick={on.test} disabled={!!blocked || !!busy} title={blocked || "Run it now with sample data"}>
            <Icon name="play" size={15} /> Test run
          </button>
          <button className="btn btn-primary" onClick={on.publish} disabled={!!blocked || !!busy}
            title={blocked || (requestsApproval ? "Ask an owner or admin to approve this version" : "Make this version live")}
            aria-describedby="publish-reason">
            {busy === "publishing" ? (requestsApproval ? "Sending…" : "Publishing…") : requestsApproval ? "Request publish" : "Publish"}
          </button>
          <span id="publish-reason" className="sr-only">{blocked}</span>
        </>
      )}
    </header>
  );
}
