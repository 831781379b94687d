// Importing a workflow file (JSON, YAML or BPMN 2.0), or a workspace file (Export all): choosing it runs a dry run
// that says what would happen (create, update or unchanged, what changes, what to set up after, what BPMN could
// not map) or what is wrong with the file; "Import" then does it and opens the workflow.
import { useState, type ChangeEvent } from "react";
import { ApiError } from "../api/client";
import { Modal } from "../components/Modal";
import { useToast } from "../components/Toasts";
import { typeLabel } from "../connections/api";
import { useConnectionTypes } from "../connections/queries";
import { navigate } from "../lib/route";
import { useImportFile } from "./api";
import {
  ACCEPTED_FILES, actionSummary, formatOf, isWorkspaceFile, setupText, workspaceSummary, type FileFormat, type ImportResult,
} from "./files";

type Chosen = { name: string; text: string; format: FileFormat; workspace: boolean };

const ACTION_LABELS: Record<ImportResult["action"], string> = { create: "New workflow", update: "Update", unchanged: "Unchanged" };

function Problem({ error }: { error: unknown }) {
  const problem = error instanceof ApiError ? error : new ApiError(0, "", String(error));
  const { errors } = problem;
  // A problem's detail and hint often repeat its one error: say them once.
  const heading = errors.length > 1 ? `${errors.length} problems in the file: fix them, then choose it again.`
    : errors.length === 1 && problem.message.includes(errors[0].message) ? "A problem in the file: fix it, then choose it again."
    : problem.message;
  const hint = problem.hint && !errors.some((e) => e.hint === problem.hint) ? problem.hint : "";
  return (
    <div className="callout callout-error import-problem" role="alert">
      <strong>{heading}</strong>
      {hint && <p>{hint}</p>}
      {problem.errors.length > 0 && (
        <ul className="import-errors">
          {problem.errors.map((e, i) => (
            <li key={`${e.path}-${i}`} data-path={e.path}>
              {e.path && <code>{e.path}</code>} {e.message}
              {e.hint && <div className="hint">How to fix it: {e.hint}</div>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

type LabelOf = (type: string) => string | undefined;

function WorkspacePreview({ results, labelOf }: { results: ImportResult[]; labelOf: LabelOf }) {
  const setup = results.flatMap((r) => (r.setup ?? []).map((step) => ({ key: r.key, step })));
  return (
    <div className="import-preview" data-testid="import-preview" data-action="workspace">
      <p>{workspaceSummary(results, results[0]?.dry_run ?? true)}</p>
      <ul className="import-results">
        {results.map((r) => (
          <li key={r.key} data-key={r.key}>
            <span className={`tag import-action import-${r.action}`}>{ACTION_LABELS[r.action]}</span> {actionSummary(r)}
          </li>
        ))}
      </ul>
      {setup.length > 0 && (
        <div className="import-setup" data-testid="import-setup">
          <strong>To do after importing</strong>
          <ul>
            {setup.map(({ key, step }) => (
              <li key={`${key}-${step.type}-${step.name}`} title={step.hint}>{key}: {setupText(step, labelOf)}</li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function Preview({ result, labelOf }: { result: ImportResult; labelOf: LabelOf }) {
  const setup = result.setup ?? [];
  const unmapped = result.unmapped ?? [];
  return (
    <div className="import-preview" data-testid="import-preview" data-action={result.action}>
      <p>
        <span className={`tag import-action import-${result.action}`}>{ACTION_LABELS[result.action]}</span>{" "}
        {actionSummary(result)}
      </p>
      {setup.length > 0 && (
        <div className="import-setup" data-testid="import-setup">
          <strong>To do after importing</strong>
          <ul>
            {setup.map((step) => (
              <li key={`${step.type}-${step.name}`} title={step.hint}>{setupText(step, labelOf)}</li>
            ))}
          </ul>
          <p className="muted small">Publishing waits until these are done. Nothing is published by an import.</p>
        </div>
      )}
      {unmapped.length > 0 && (
        <div className="import-unmapped" data-testid="import-unmapped">
          <strong>Not brought over from the BPMN file</strong>
          <ul>{unmapped.map((element) => <li key={element}>{element}</li>)}</ul>
        </div>
      )}
    </div>
  );
}

export function ImportDialog({ onClose }: { onClose: () => void }) {
  const [chosen, setChosen] = useState<Chosen | null>(null);
  const [fileProblem, setFileProblem] = useState("");
  const check = useImportFile();
  const perform = useImportFile();
  const types = useConnectionTypes().data;
  const toast = useToast();
  const labelOf = (slug: string) => {
    const type = types?.find((t) => t.type === slug);
    return type ? typeLabel(type, slug) : undefined;
  };

  const choose = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    setChosen(null);
    setFileProblem("");
    check.reset();
    perform.reset();
    if (!file) return;
    const format = formatOf(file.name);
    if (!format) {
      setFileProblem(`${file.name} is not a workflow file: choose a .json, .yaml, .yml, .bpmn or .xml file.`);
      return;
    }
    const text = await file.text();
    const workspace = isWorkspaceFile(text, format);
    setChosen({ name: file.name, text, format, workspace });
    check.mutate({ text, format, workspace, dryRun: true });
  };

  const doImport = () => {
    if (!chosen) return;
    perform.mutate({ text: chosen.text, format: chosen.format, workspace: chosen.workspace, dryRun: false }, {
      onSuccess: (results) => {
        onClose();
        if (chosen.workspace) {
          toast(workspaceSummary(results, false), "success");
          return;
        }
        toast(actionSummary(results[0]), "success");
        if (results[0].workflow_id) navigate(`/workflows/${results[0].workflow_id}`);
      },
    });
  };

  const results = check.data;
  const preview = chosen && !chosen.workspace ? results?.[0] : undefined;
  const ready = !!chosen && !!results && !check.isPending && results.some((r) => r.action !== "unchanged");
  const openExisting = preview?.action === "unchanged" && preview.workflow_id;
  return (
    <Modal title="Import a workflow" onClose={onClose} wide footer={
      <>
        <button className="btn btn-ghost" onClick={onClose}>Cancel</button>
        {openExisting ? (
          <button className="btn btn-primary" onClick={() => { onClose(); navigate(`/workflows/${preview.workflow_id}`); }}>
            Open the workflow
          </button>
        ) : (
          <button className="btn btn-primary" onClick={doImport} disabled={!ready || perform.isPending}>
            {perform.isPending ? "Importing…" : "Import"}
          </button>
        )}
      </>
    }>
      <p className="muted small">
        A workflow file exported from Flowyard (JSON or YAML), a BPMN 2.0 diagram, or a file of all your workflows (Export
        all). A workflow whose key matches one of yours updates it as a new version; otherwise it is created. Nothing is
        published.
      </p>
      <label htmlFor="import-file">Workflow file</label>
      <input id="import-file" type="file" accept={ACCEPTED_FILES} onChange={choose} />
      {fileProblem && <p className="field-error" role="alert">{fileProblem}</p>}
      {check.isPending && <p className="muted" role="status">Checking {chosen?.name}…</p>}
      {check.error && <Problem error={check.error} />}
      {preview && !check.isPending && <Preview result={preview} labelOf={labelOf} />}
      {chosen?.workspace && results && !check.isPending && <WorkspacePreview results={results} labelOf={labelOf} />}
      {perform.error && <Problem error={perform.error} />}
    </Modal>
  );
}
