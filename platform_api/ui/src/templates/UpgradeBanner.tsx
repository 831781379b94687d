// "Update available" above a workflow made from a template that has a newer version; it opens the merge screen.
import { useUpdates } from "./queries";

export function UpgradeBanner({ workflowId }: { workflowId: string }) {
  const update = useUpdates().data?.updates.find((u) => u.workflow_id === workflowId);
  if (!update) return null;
  return (
    <div className="callout callout-warn upgrade-banner" role="status" data-testid="upgrade-banner">
      <span>
        <strong>Update available:</strong> version {update.latest_version} of the template “{update.template_title}”
        (this workflow follows version {update.current_version}).
      </span>
      <a className="btn btn-secondary btn-xs" href={`#/upgrade/${workflowId}`}>Review the update</a>
    </div>
  );
}
