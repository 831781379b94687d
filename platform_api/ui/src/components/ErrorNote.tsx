// A failure as a person reads it: its kind (as the help page titles it), the message, what to do about it and a
// link to the help page's section for its kind.
import type { StepError } from "../api/types";
import { errorKindLabel } from "../runs/progress";

export function ErrorNote({ error, prefix = "" }: { error: StepError; prefix?: string }) {
  return (
    <div className="callout callout-error error-note" role="alert" data-kind={error.kind ?? undefined}>
      {error.kind && <span className="error-kind" data-testid="error-kind" title={error.kind}>{errorKindLabel(error.kind)}</span>}
      <strong>{prefix}{error.message}</strong>
      {error.hint && <p>How to fix it: {error.hint}</p>}
      {error.retryable && <p className="muted">This kind of failure is retried automatically.</p>}
      {error.docs_url && (
        <p><a href={error.docs_url} target="_blank" rel="noopener noreferrer">What to do</a></p>
      )}
    </div>
  );
}
