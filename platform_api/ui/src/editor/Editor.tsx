// The workflow editor: palette, canvas, settings panel, toolbar, test runs and the unsaved-work banner.
import { useReactFlow, type XYPosition } from "@xyflow/react";
import { useCallback, useDeferredValue, useEffect, useMemo, useState } from "react";
import type { Graph, GraphError, JsonSchema, NodeTypeInfo, Workflow } from "../api/types";
import { useWorkflow } from "../api/queries";
import { useToast } from "../components/Toasts";
import { logicalKey, newNodeId, NODE_HEIGHT, NODE_WIDTH, toFlowNode, toGraph, type StepData } from "../lib/graph";
import { autoLayout } from "../lib/layout";
import { useRun } from "../lib/useRun";
import { PendingBanner } from "../publish/PendingBanner";
import { usePublishesDirectly } from "../publish/usePublishRule";
import { SecretDialog } from "../triggers/TriggerPanel";
import { DraftBanner, NarrowBanner, OfflineBanner, ReadOnlyBanner } from "./Banners";
import { Canvas, FIT } from "./Canvas";
import { ConflictDialog } from "./ConflictDialog";
import { createDecorations, EditorContext } from "./context";
import { EmptyGuide } from "./EmptyGuide";
import { FindStep } from "./FindStep";
import { NodePanel } from "./NodePanel";
import { Palette } from "./Palette";
import { buildReferences } from "./references";
import { RunBar } from "./RunBar";
import { RunDialog } from "./RunDialog";
import { ShortcutsHelp } from "./ShortcutsHelp";
import { StepList } from "./StepList";
import { Toolbar } from "./Toolbar";
import { useGraphState } from "./useGraphState";
import { useShortcuts } from "./useShortcuts";
import { useValidation } from "./useValidation";
import { useWorkflowSync } from "./useWorkflowSync";

/** `narrow`: a phone. Settings, publishing and the step list work; moving, connecting and adding steps (drags) do not. */
type Props = { initial: Workflow; nodeTypes: NodeTypeInfo[]; readOnly: boolean; narrow?: boolean };
const NO_ERRORS: GraphError[] = [];
const NO_FIELD_ERRORS = new Map<string, GraphError[]>();

/** Where a new step lands: the drop point, or the middle of the canvas. */
function dropPoint(screen?: XYPosition): XYPosition {
  if (screen) return screen;
  const box = document.querySelector(".canvas")?.getBoundingClientRect();
  return box ? { x: box.x + box.width / 2, y: box.y + box.height / 2 } : { x: 0, y: 0 };
}

export function Editor({ initial, nodeTypes, readOnly, narrow = false }: Props) {
  const types = useMemo(() => new Map(nodeTypes.map((t) => [t.type, t])), [nodeTypes]);
  const [decorations] = useState(createDecorations);
  const env = useMemo(() => ({ types, decorations }), [types, decorations]);
  const state = useGraphState(initial.graph);
  const [name, setName] = useState(initial.name);
  // Validation starts from the edit itself; what else is derived from the whole graph (dirty check,
  // references) follows the canvas at a lower priority, so that dragging stays smooth on a large workflow.
  const liveGraph = useMemo(() => toGraph(state.nodes, state.edges), [state.nodes, state.edges]);
  const validation = useValidation(liveGraph, useMemo(() => logicalKey(liveGraph), [liveGraph]));
  const nodes = useDeferredValue(state.nodes);
  const edges = useDeferredValue(state.edges);
  const graph = useMemo(() => toGraph(nodes, edges), [nodes, edges]);
  const sync = useWorkflowSync(initial, graph, name, state.reset);
  // the cached workflow, when there is one, follows a change of its approval rule in Workflow settings
  const cached = useWorkflow(sync.workflow.id).data;
  const direct = usePublishesDirectly(cached ?? sync.workflow);
  const [runId, setRunId] = useState<string | null>(null);
  const { run } = useRun(runId);
  const [testing, setTesting] = useState(false);
  const { record, setNodes, live } = state;
  const flow = useReactFlow();
  const toast = useToast();

  const steps = useMemo(() => new Map((run?.steps ?? []).map((s) => [s.node_id, s])), [run]);
  useEffect(() => decorations.set({ errors: validation.errors.byNode, steps }), [decorations, validation.errors, steps]);

  const addNode = useCallback((typeName: string, screen?: XYPosition) => {
    const type = types.get(typeName);
    if (!type || readOnly) return;
    const at = flow.screenToFlowPosition(dropPoint(screen));
    const position = { x: at.x - NODE_WIDTH / 2, y: at.y - NODE_HEIGHT / 2 };
    const config = type.is_trigger && type.config_schema.properties?.sample ? { sample: type.sample_output } : {};
    const id = newNodeId(type.label, new Set(live.current.nodes.map((n) => n.id)));
    const node = toFlowNode({ id, type: typeName, label: type.label, config, position });
    record();
    setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), { ...node, selected: true }]);
  }, [types, readOnly, flow, record, setNodes, live]);

  const updateNode = useCallback((id: string, data: Partial<StepData>, field: string) => {
    record(`${id}:${field}`);
    setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...data } } : n)));
  }, [record, setNodes]);

  const select = useCallback((id: string | null) => {
    setNodes((ns) => ns.map((n) => (n.selected === (n.id === id) ? n : { ...n, selected: n.id === id })));
    // once the panel it opens has narrowed the canvas (two frames: the layout, then React Flow's resize)
    if (id) requestAnimationFrame(() => requestAnimationFrame(() => flow.fitView({ ...FIT, nodes: [{ id }], duration: 300 })));
  }, [setNodes, flow]);

  const layout = useCallback(() => {
    record();
    setNodes((ns) => autoLayout(ns, live.current.edges));
    requestAnimationFrame(() => flow.fitView({ ...FIT, duration: 300 }));
  }, [record, setNodes, live, flow]);

  const { replace } = state;
  const openGraph = useCallback((g: Graph, note: string) => {
    replace(g);
    toast(note, "info");
  }, [replace, toast]);

  const [finding, setFinding] = useState(false);
  const [helping, setHelping] = useState(false);
  const find = useCallback((id: string) => {
    setFinding(false);
    select(id);
  }, [select]);
  useShortcuts({
    find: () => setFinding(true), help: () => setHelping(true),
    undo: state.undo, redo: state.redo, copy: state.copy, paste: narrow ? undefined : state.paste, save: sync.save,
    layout: narrow ? undefined : layout,
  }, readOnly);
  const findable = useMemo(() => (finding || narrow ? nodes.map((n) => ({
    id: n.id, label: n.data.label, type: n.data.type, typeLabel: types.get(n.data.type)?.label ?? "",
    disabled: !!n.data.disabled, trigger: !!types.get(n.data.type)?.is_trigger,
  })) : []), [finding, narrow, nodes, types]);

  const trigger = state.nodes.find((n) => types.get(n.data.type)?.is_trigger);
  const firstTrigger = nodeTypes.find((t) => t.is_trigger);
  const selected = state.nodes.filter((n) => n.selected);
  const current = selected.length === 1 ? selected[0] : null;
  const currentId = current?.id;
  const references = useMemo(
    () => (currentId ? buildReferences(currentId, nodes, edges, types, steps) : []),
    [currentId, nodes, edges, types, steps],
  );
  const closePanel = useCallback(() => select(null), [select]);

  const restoreDraft = () => {
    const draft = sync.restoreDraft();
    if (!draft) return;
    openGraph(draft.graph, "Unsaved changes restored");
    setName(draft.name);
  };

  const runTest = async (input: Record<string, unknown>) => {
    const id = await sync.startTest(input);
    if (!id) return;
    setTesting(false);
    setRunId(id);
  };

  return (
    <EditorContext.Provider value={env}>
      <main className={`editor${readOnly ? " read-only" : ""}`}>
        <Toolbar workflow={sync.workflow} name={name} onName={setName} dirty={sync.dirty} busy={sync.busy} readOnly={readOnly}
          requestsApproval={!direct}
          errors={validation.errors} checking={validation.status} canUndo={state.canUndo} canRedo={state.canRedo}
          labelOf={(id) => state.nodes.find((n) => n.id === id)?.data.label || id}
          on={{
            undo: state.undo, redo: state.redo, layout, save: sync.save, publish: sync.publish, test: () => setTesting(true),
            pickProblem: select, openVersion: (g, v) => openGraph(g, `Version ${v} opened: save to make it the latest`),
            reload: sync.reload, find: () => setFinding(true), help: () => setHelping(true),
          }} />
        {readOnly && <ReadOnlyBanner />}
        {narrow && !readOnly && <NarrowBanner />}
        {narrow && <StepList steps={findable} selected={currentId ?? null} onPick={select}
          onToggle={readOnly ? undefined : (id, disabled) => updateNode(id, { disabled }, "disabled")} />}
        <OfflineBanner />
        {sync.pending && <PendingBanner pending={sync.pending} onClose={sync.closePending} />}
        {sync.draft && <DraftBanner draft={sync.draft} onRestore={restoreDraft} onDiscard={sync.discardDraft} />}
        <div className="editor-body">
          {!readOnly && !narrow && <Palette types={nodeTypes} onAdd={addNode} />}
          <div className="canvas-wrap">
            <Canvas state={state} readOnly={readOnly || narrow} onAdd={addNode} />
            {state.nodes.length === 0 && <EmptyGuide onStart={readOnly || !firstTrigger ? null : () => addNode(firstTrigger.type)} />}
            {runId && <RunBar run={run} stepCount={state.nodes.length} onClose={() => setRunId(null)} />}
          </div>
          {current && (
            <NodePanel id={current.id} data={current.data} type={types.get(current.data.type)}
              errors={validation.errors.byNode.get(current.id) ?? NO_ERRORS} fieldErrors={validation.errors.byField.get(current.id) ?? NO_FIELD_ERRORS}
              references={references} step={steps.get(current.id)} readOnly={readOnly} workflow={sync.workflow}
              onChange={updateNode} onClose={closePanel} />
          )}
        </div>
      </main>
      {testing && (
        <RunDialog mode="test" schema={trigger?.data.config.input_schema as JsonSchema | undefined}
          sample={trigger?.data.config.sample ?? (trigger && types.get(trigger.data.type)?.sample_output) ?? {}}
          onRun={runTest} onClose={() => setTesting(false)} />
      )}
      {finding && <FindStep steps={findable} onPick={find} onClose={() => setFinding(false)} />}
      {helping && <ShortcutsHelp onClose={() => setHelping(false)} />}
      <SecretDialog workflowId={sync.workflow.id} />
      {sync.conflict && <ConflictDialog onReload={sync.reload} onKeepBoth={sync.keepBoth} onClose={sync.closeConflict} />}
    </EditorContext.Provider>
  );
}
