// Unsaved work is kept in localStorage so that a server error or a lost connection never loses it.
import type { Graph } from "../api/types";

export type Draft = { graph: Graph; name: string; baseVersion: number; savedAt: string };

const key = (workflowId: string) => `flowyard:draft:${workflowId}`;

export function loadDraft(workflowId: string): Draft | null {
  try {
    return JSON.parse(localStorage.getItem(key(workflowId)) ?? "null");
  } catch {
    return null;
  }
}

export function storeDraft(workflowId: string, draft: Omit<Draft, "savedAt">): void {
  try {
    localStorage.setItem(key(workflowId), JSON.stringify({ ...draft, savedAt: new Date().toISOString() }));
  } catch {
    /* storage full or disabled: nothing more we can do */
  }
}

export function clearDraft(workflowId: string): void {
  localStorage.removeItem(key(workflowId));
}
