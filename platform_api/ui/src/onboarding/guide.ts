// The first-run guide's checklist, ticked from the workspace's real data, and where its dismissal is kept: in
// this browser, per user and workspace (localStorage; there is no per-user preference on the server for it).
import { useSyncExternalStore } from "react";

/** What the workspace already has, read from the API (connections, workflows, runs). */
export type Facts = {
  connections: number;
  workflows: { id: string; name: string; published_version: number | null; updated_at: string }[];
  runs: number;
};

export type StepId = "connect" | "start" | "test" | "publish";
export type GuideStep = { id: StepId; title: string; done: boolean; help: string };

/** The workflow the "test" and "publish" steps open: a draft edited last, else the one edited last. */
export function focusWorkflow(facts: Facts): Facts["workflows"][number] | undefined {
  const recent = [...facts.workflows].sort((a, b) => b.updated_at.localeCompare(a.updated_at));
  return recent.find((w) => w.published_version === null) ?? recent[0];
}

export function guideSteps(facts: Facts): GuideStep[] {
  return [
    {
      id: "connect", title: "Connect an account", done: facts.connections > 0,
      help: "Add the email, SMS or CRM account your workflows will use. Nothing is sent until you run one.",
    },
    {
      id: "start", title: "Pick a template or draw a workflow", done: facts.workflows.length > 0,
      help: "Start from a ready-made template, or draw your own: a trigger, then the steps it runs.",
    },
    {
      id: "test", title: "Test it", done: facts.runs > 0,
      help: "Open the workflow and press Test run: every step runs in sandbox mode and shows what it did.",
    },
    {
      id: "publish", title: "Publish it", done: facts.workflows.some((w) => w.published_version !== null),
      help: "Publish the workflow to make it live: its trigger starts it from then on.",
    },
  ];
}

const key = (userId: string, tenantId: string) => `flowyard:guide-dismissed:${userId}:${tenantId}`;
const listeners = new Set<() => void>();

function read(userId: string, tenantId: string): boolean {
  try {
    return localStorage.getItem(key(userId, tenantId)) === "1";
  } catch {
    return false;
  }
}

/** Hides (true) or brings back (false) the guide for this user in this workspace. */
export function setDismissed(userId: string, tenantId: string, dismissed: boolean): void {
  try {
    if (dismissed) localStorage.setItem(key(userId, tenantId), "1");
    else localStorage.removeItem(key(userId, tenantId));
  } catch {
    // storage refused (private mode): the guide just shows again next time
  }
  listeners.forEach((listener) => listener());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("storage", listener); // another tab of the same browser
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", listener);
  };
}

/** Whether this user dismissed the guide in this workspace; false until both are known. */
export function useDismissed(userId: string | undefined, tenantId: string | undefined): boolean {
  return useSyncExternalStore(subscribe, () => (userId && tenantId ? read(userId, tenantId) : false));
}
