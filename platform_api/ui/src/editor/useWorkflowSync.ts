// Saving, publishing and test runs of the open workflow, with the unsaved graph kept in
// localStorage until a save succeeds, and the 409 "someone else saved" path.
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError } from "../api/client";
import { useCreateWorkflow, usePublishWorkflow, useSaveWorkflow, useStartRun, workflowQuery, type PublishPending } from "../api/queries";
import type { Graph, Workflow } from "../api/types";
import { useToast } from "../components/Toasts";
import { clearDraft, loadDraft, storeDraft, type Draft } from "../lib/drafts";
import { toFlow, toGraph } from "../lib/graph";
import { navigate } from "../lib/route";
import { pendingText } from "../publish/api";
import { showSecret } from "../triggers/api";

const DRAFT_DELAY_MS = 300;
const normalized = (graph: Graph) => JSON.stringify(toGraph(toFlow(graph).nodes, toFlow(graph).edges));

/** A draft worth offering: one that differs from what the server has. */
function offeredDraft(workflow: Workflow): Draft | null {
  const draft = loadDraft(workflow.id);
  if (!draft) return null;
  if (normalized(draft.graph) === normalized(workflow.graph) && draft.name === workflow.name) {
    clearDraft(workflow.id);
    return null;
  }
  return draft;
}

export function useWorkflowSync(initial: Workflow, graph: Graph, name: string, resetGraph: (g: Graph) => void) {
  const toast = useToast();
  const [workflow, setWorkflow] = useState(initial);
  const [baseVersion, setBaseVersion] = useState(initial.version);
  const [savedKey, setSavedKey] = useState(() => normalized(initial.graph));
  const [draft, setDraft] = useState<Draft | null>(() => offeredDraft(initial));
  const [busy, setBusy] = useState<"" | "saving" | "publishing" | "starting">("");
  const [conflict, setConflict] = useState(false);
  /** The publish request the last Publish made (where publishing needs approval), shown until the next publish. */
  const [pending, setPending] = useState<PublishPending | null>(null);
  const graphKey = useMemo(() => JSON.stringify(graph), [graph]);
  const graphDirty = graphKey !== savedKey;
  const dirty = graphDirty || name !== workflow.name;
  const id = workflow.id;
  const client = useQueryClient();
  const { mutateAsync: saveWorkflow } = useSaveWorkflow(id);
  const { mutateAsync: publishWorkflow } = usePublishWorkflow(id);
  const { mutateAsync: startRun } = useStartRun();
  const { mutateAsync: createWorkflow } = useCreateWorkflow();

  useEffect(() => {
    if (!dirty) return;
    const timer = setTimeout(() => storeDraft(id, { graph, name, baseVersion }), DRAFT_DELAY_MS);
    return () => clearTimeout(timer);
  }, [dirty, graph, name, baseVersion, id]);

  const accept = useCallback((saved: Workflow) => {
    setWorkflow(saved);
    setBaseVersion(saved.version);
    setSavedKey(normalized(saved.graph));
    clearDraft(saved.id);
  }, []);

  const fail = useCallback((action: string, error: unknown) => {
    const e = error instanceof ApiError ? error : new ApiError(0, "", String(error));
    if (e.isConflict) return setConflict(true);
    const kept = e.isTransient ? " Your changes are kept in this browser and offered back when you return." : "";
    toast(`Could not ${action}: ${e.message}`, "error", (e.hint ?? "") + kept);
  }, [toast]);

  const save = useCallback(async (): Promise<Workflow | null> => {
    if (!dirty) return workflow;
    setBusy("saving");
    try {
      storeDraft(id, { graph, name, baseVersion });
      const body = { ...(graphDirty ? { graph } : {}), ...(name !== workflow.name ? { name } : {}), base_version: baseVersion };
      const saved = await saveWorkflow(body);
      accept(saved);
      toast(`Saved version ${saved.version}`, "success");
      return saved;
    } catch (error) {
      fail("save", error);
      return null;
    } finally {
      setBusy("");
    }
  }, [dirty, graphDirty, workflow, graph, name, baseVersion, id, saveWorkflow, accept, fail, toast]);

  const publish = useCallback(async () => {
    if (!(await save())) return;
    setBusy("publishing");
    try {
      const outcome = await publishWorkflow();
      if (outcome.pending) {
        setPending(outcome.pending);
        toast(pendingText(outcome.pending.version), "success");
        return;
      }
      setPending(null);
      setWorkflow(outcome.published);
      // the first publish of a webhook workflow: its secret, shown once
      if (outcome.published.webhook_secret) showSecret(id, { secret: outcome.published.webhook_secret, why: "published" });
      toast(`Published: version ${outcome.published.published_version} is live`, "success");
    } catch (error) {
      fail("publish", error);
    } finally {
      setBusy("");
    }
  }, [save, publishWorkflow, fail, toast, id]);

  /** The test run's id, or null when it could not start (said in a toast); throws a 422 on the input. */
  const startTest = useCallback(async (input: Record<string, unknown>): Promise<string | null> => {
    if (!(await save())) return null;
    setBusy("starting");
    try {
      return (await startRun({ workflowId: id, input, mode: "test" })).run_id;
    } catch (error) {
      if (error instanceof ApiError && error.type.endsWith("/invalid-input")) throw error; // the run dialog shows it by its fields
      fail("start the test run", error);
      return null;
    } finally {
      setBusy("");
    }
  }, [save, id, startRun, fail]);

  const reload = useCallback(async () => {
    const fresh = await client.fetchQuery({ ...workflowQuery(id), staleTime: 0 });
    accept(fresh);
    resetGraph(fresh.graph);
    setConflict(false);
    toast(`Reloaded version ${fresh.version}`, "info");
    return fresh;
  }, [id, client, accept, resetGraph, toast]);

  const keepBoth = useCallback(async () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const copyName = `${name} (copy${attempt > 1 ? ` ${attempt}` : ""})`;
      try {
        const copy = await createWorkflow({ name: copyName, graph });
        clearDraft(id);
        setConflict(false);
        toast(`Your changes were saved as “${copyName}”`, "success");
        navigate(`/workflows/${copy.id}`);
        return;
      } catch (error) {
        if (!(error instanceof ApiError && error.type.endsWith("/name-taken"))) return fail("save a copy", error);
      }
    }
  }, [name, graph, id, createWorkflow, fail, toast]);

  const restoreDraft = useCallback(() => {
    if (!draft) return null;
    setBaseVersion(draft.baseVersion);
    setDraft(null);
    return draft;
  }, [draft]);

  const discardDraft = useCallback(() => {
    clearDraft(id);
    setDraft(null);
  }, [id]);

  return {
    workflow, dirty, busy, conflict, draft, pending, save, publish, startTest, reload, keepBoth, restoreDraft, discardDraft,
    closeConflict: () => setConflict(false), closePending: () => setPending(null),
  };
}
