// One workflow's health: how its live runs failed in the range, grouped when they failed alike (the same step,
// kind and status), largest group first, each with what to do and the latest run that failed so.
import { useQuery } from "@tanstack/react-query";
import { errorKindLabel } from "../runs/progress";
import { ProblemNote } from "../settings/ProblemNote";
import { reportWindow, reportsApi, type Bucket, type FailureGroup, type RangeKey } from "./api";

function FailureItem({ group }: { group: FailureGroup }) {
  return (
    <li className="card health-item" data-node-id={group.node_id} data-kind={group.kind}>
      <p>
        <span className="error-kind" title={group.kind}>{errorKindLabel(group.kind)}</span>
        <strong data-testid="failure-summary">{group.summary}</strong>
      </p>
      <p className="muted small">Latest: {group.message}</p>
      {group.hint && <p>How to fix it: {group.hint}</p>}
      <p className="row">
        <a href={`#/runs/${group.latest_run_id}`}>Open the latest run</a>
        {group.docs_url && <> · <a href={group.docs_url} target="_blank" rel="noopener noreferrer">What to do</a></>}
      </p>
    </li>
  );
}

export function WorkflowHealth({ workflowId, range, bucket }: { workflowId: string; range: RangeKey; bucket: Bucket }) {
  const failures = useQuery({
    queryKey: ["report-failures", workflowId, range] as const,
    queryFn: () => reportsApi.failures(workflowId, reportWindow(range, bucket)),
  });
  return (
    <section aria-label="Health">
      <h2>Health</h2>
      <ProblemNote error={failures.error} />
      {failures.data?.length === 0 && <p className="muted">No live run failed in this range.</p>}
      <ul className="health-list" aria-label="Failures">
        {failures.data?.map((g) => <FailureItem key={`${g.node_id}:${g.kind}:${g.status_code ?? ""}`} group={g} />)}
      </ul>
    </section>
  );
}
