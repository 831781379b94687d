// A step's result: status, timing, attempts, error with its kind, remediation hint and help link, input and output.
import type { Step } from "../api/types";
import { duration } from "../lib/format";
import { useDates } from "../lib/dates";
import { ErrorNote } from "./ErrorNote";
import { JsonView } from "./JsonView";
import { StatusPill } from "./StatusPill";

export function StepDetails({ step }: { step: Step }) {
  const { dateTime } = useDates();
  return (
    <div className="step-details" data-testid="step-details">
      <div className="step-meta">
        <StatusPill status={step.status} />
        <span title={`Started ${dateTime(step.started_at)}`}>took {duration(step.started_at, step.ended_at)}</span>
        {step.attempts > 1 && <span>{step.attempts} attempts</span>}
      </div>
      {step.error && <ErrorNote error={step.error} />}
      <JsonView label="Input" value={step.input} />
      <JsonView label="Output" value={step.output} />
      <p className="muted small">Started {dateTime(step.started_at)} · ended {dateTime(step.ended_at)}</p>
    </div>
  );
}
