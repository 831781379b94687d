// Whether the signed-in person's Publish makes a workflow live at once, or asks for approval instead.
import type { Workflow } from "../api/types";
import { useMe, useWorkspace } from "../settings/queries";
import { publishesDirectly } from "./api";

export function usePublishesDirectly(workflow: Pick<Workflow, "approval_required">): boolean {
  const required = !!workflow.approval_required;
  const me = useMe().data;
  const workspace = useWorkspace().data;
  return publishesDirectly(required, me?.role, required ? workspace?.publish_direct_roles : undefined);
}
