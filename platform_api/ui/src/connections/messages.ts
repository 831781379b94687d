// What the Connections page shows of an error: a message and a hint; for a refused delete, the workflows in the way.
import { ApiError } from "../api/client";
import type { WorkflowUsingIt } from "./api";

export type Message = { message: string; hint?: string | null };

export function errorMessage(error: unknown): Message {
  return error instanceof ApiError ? { message: error.message, hint: error.hint } : { message: String(error) };
}

const namesWorkflow = (e: ApiError["errors"][number]): e is WorkflowUsingIt =>
  typeof e.workflow_id === "string" && typeof e.workflow_name === "string";

/** The workflows a refused delete (409 connection-in-use) names: one per error, each with its id. */
export function workflowsUsing(error: unknown): WorkflowUsingIt[] {
  const inUse = error instanceof ApiError && error.status === 409 && error.type.endsWith("/connection-in-use");
  return inUse ? error.errors.filter(namesWorkflow) : [];
}
