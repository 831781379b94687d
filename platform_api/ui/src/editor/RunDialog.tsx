// Starts a run by hand: a test run from the editor, or a live run of the published version from the
// workflows list. The input is a form derived from the trigger's input_schema (or JSON), pre-filled from
// its defaults and sample; a 422 from the server shows next to the fields it names. Before a test run it
// lists the steps that call real URLs anyway (test runs sandbox everything else).
import { useNodes } from "@xyflow/react";
import { useState } from "react";
import { ApiError } from "../api/client";
import type { JsonSchema } from "../api/types";
import { Modal } from "../components/Modal";
import type { StepNode } from "../lib/graph";
import { initialInput, RunInputForm, type InputError } from "./RunInputForm";

type Props = {
  mode: "test" | "live";
  workflowName?: string;
  schema: JsonSchema | null | undefined;
  sample: unknown;
  /** Starts the run; throws an ApiError to show it in the dialog. */
  onRun: (input: Record<string, unknown>) => Promise<void>;
  onClose: () => void;
};

const FORM_ID = "run-input";
const NO_ERRORS: InputError[] = [];
const TEXT = {
  test: {
    title: "Test this workflow", submit: "Run test",
    intro: "A test run saves your changes and runs them now with this data as the trigger’s payload. Nothing is published; connectors run in test mode, CRM changes are marked as test data and start no workflows, and SQL changes are rolled back.",
  },
  live: {
    title: "Run now", submit: "Run now",
    intro: "Runs the published version now with this input, for real: emails, texts and other steps are sent.",
  },
};

/** Step types that reach real services also in a test run: the others are sandboxed or rolled back. */
const CALLS_OUT_IN_TESTS = new Set(["http.request"]);

export type LiveCall = { id: string; label: string; url: string };

export function liveCallSteps(nodes: StepNode[]): LiveCall[] {
  return nodes
    .filter((n) => CALLS_OUT_IN_TESTS.has(n.data.type))
    .map((n) => ({ id: n.id, label: n.data.label || n.id, url: typeof n.data.config.url === "string" ? n.data.config.url : "" }));
}

/** Only inside the editor (it reads the canvas' nodes): a test run's dialog. */
function LiveCallsNotice() {
  const calls = liveCallSteps(useNodes<StepNode>());
  if (calls.length === 0) return null;
  return (
    <div className="callout callout-warn" role="note" data-testid="live-calls">
      <strong>{calls.length === 1 ? "This step calls" : "These steps call"} a real URL, also in a test run:</strong>
      <ul>
        {calls.map((call) => <li key={call.id}>{call.label}{call.url && <>: <code>{call.url}</code></>}</li>)}
      </ul>
    </div>
  );
}

export function RunDialog({ mode, workflowName, schema, sample, onRun, onClose }: Props) {
  const [initial] = useState(() => initialInput(schema, sample));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const text = TEXT[mode];
  const inputErrors = problem?.type.endsWith("/invalid-input") ? problem.errors : NO_ERRORS;
  const run = async (input: Record<string, unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await onRun(input);
    } catch (error) {
      setProblem(error instanceof ApiError ? error : new ApiError(0, "", String(error)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={workflowName ? `${text.title}: ${workflowName}` : text.title} onClose={onClose} footer={
      <>
        <button type="button" className="btn btn-secondary" onClick={onClose}>Cancel</button>
        <button type="submit" form={FORM_ID} className="btn btn-primary" disabled={busy}>{busy ? "Starting…" : text.submit}</button>
      </>
    }>
      <p>{text.intro}</p>
      {mode === "test" && <LiveCallsNotice />}
      {problem && inputErrors === NO_ERRORS && (
        <div className="callout callout-error" role="alert">
          <strong>Could not start the run: {problem.message}</strong>
          {problem.hint && <p>{problem.hint}</p>}
        </div>
      )}
      <RunInputForm id={FORM_ID} schema={schema} initial={initial} serverErrors={inputErrors} onSubmit={run} />
    </Modal>
  );
}
