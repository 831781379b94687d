// Starts a test run with an editable JSON payload, pre-filled from the trigger's sample.
import { useState } from "react";
import { Modal } from "../components/Modal";

type Props = { sample: unknown; busy: boolean; onRun: (input: Record<string, unknown>) => void; onClose: () => void };

export function TestRunDialog({ sample, busy, onRun, onClose }: Props) {
  const [text, setText] = useState(JSON.stringify(sample ?? {}, null, 2));
  let problem: string | null = null;
  let input: Record<string, unknown> = {};
  try {
    input = JSON.parse(text || "{}");
    if (typeof input !== "object" || input === null || Array.isArray(input)) problem = "The payload must be a JSON object: { … }";
  } catch (error) {
    problem = `Not valid JSON: ${(error as Error).message}`;
  }
  return (
    <Modal title="Test this workflow" onClose={onClose} footer={
      <>
        <button className="btn btn-secondary" onClick={onClose}>Cancel</button>
        <button className="btn btn-primary" disabled={!!problem || busy} onClick={() => onRun(input)}>
          {busy ? "Starting…" : "Run test"}
        </button>
      </>
    }>
      <p>
        A test run saves your changes and runs them now with this sample data as the trigger’s payload. Nothing is
        published; connectors run in test mode.
      </p>
      <label htmlFor="test-payload">Trigger payload (JSON)</label>
      <textarea id="test-payload" className="code" rows={10} value={text} spellCheck={false}
        onChange={(e) => setText(e.target.value)} aria-invalid={!!problem || undefined} />
      {problem && <p className="field-error">{problem}</p>}
    </Modal>
  );
}
