// From a template's setup: offers to put a connection just added into the workflow's steps.
import { useWorkflow } from "../api/queries";
import { typeLabel, type Connection, type ConnectionType } from "./api";
import { errorMessage } from "./messages";
import { useConnectionIn } from "./queries";

type Props = { workflowId: string; added: Connection | null; types: ConnectionType[] };

export function SetupBanner({ workflowId, added, types }: Props) {
  const workflow = useWorkflow(workflowId).data;
  const setup = useConnectionIn(workflowId);
  // The answer concerns the connection it was given: a newer one added since is offered again.
  const answer = setup.variables?.connectionId === added?.id ? setup.data : undefined;
  const problem = setup.error && errorMessage(setup.error);
  if (!workflow) return null;
  const use = () => setup.mutate({ type: added!.type, connectionId: added!.id });
  const left = answer?.unbound_steps.map((s) => typeLabel(types.find((t) => t.type === s.connection_type), s.connection_type));
  return (
    <div className="callout callout-info setup-banner" role="region" aria-label="Workflow setup">
      <span>Setting up <strong>{workflow.name}</strong>.</span>
      {added && !answer && (
        <button className="btn btn-primary btn-xs" onClick={use}>Use “{added.name}” in “{workflow.name}”</button>
      )}
      {answer && (
        <span>{answer.setup_complete ? "Every step has a connection now." : `Saved. Still to connect: ${[...new Set(left)].join(", ")}.`}</span>
      )}
      {problem && <span className="field-error">{problem.message} {problem.hint}</span>}
      <a href={`#/workflows/${workflowId}`}>Open the workflow →</a>
    </div>
  );
}
