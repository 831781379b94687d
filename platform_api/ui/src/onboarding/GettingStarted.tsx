// The first-run guide on the workflows page: connect an account, pick a template or draw a workflow, test it,
// publish it; each step ticked from the workspace's data, each with a button to where it is done. "Hide the
// guide" dismisses it for this user in this workspace; the header's "Getting started" brings it back.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef } from "react";
import { useWorkflows } from "../api/queries";
import { Icon } from "../components/Icon";
import { useConnections } from "../connections/queries";
import { navigate } from "../lib/route";
import { NO_FILTERS, runsApi } from "../runs/api";
import { useMe } from "../settings/queries";
import { focusWorkflow, guideSteps, setDismissed, useDismissed, type Facts, type GuideStep } from "./guide";

/** Set by "Getting started": the guide's heading takes focus when the guide shows again. */
let focusOnShow = false;

/** Whether the signed-in user sees the guide here: editors and above, until they dismiss it. */
export function useGuide() {
  const me = useMe().data;
  const canBuild = !!me?.permissions.includes("create_edit");
  const dismissed = useDismissed(me?.user.id, me?.tenant.id);
  return {
    shown: canBuild && !dismissed,
    canReopen: canBuild && dismissed,
    dismiss: () => me && setDismissed(me.user.id, me.tenant.id, true),
    reopen: () => me && setDismissed(me.user.id, me.tenant.id, false),
  };
}

/** The header's "Getting started": shown once the guide is dismissed; brings it back on the workflows page. */
export function GettingStartedLink() {
  const guide = useGuide();
  if (!guide.canReopen) return null;
  const reopen = () => {
    focusOnShow = true;
    guide.reopen();
    navigate("/");
  };
  return <button className="btn btn-ghost btn-xs" onClick={reopen}>Getting started</button>;
}

function useFacts(): Facts | undefined {
  const workflows = useWorkflows().data;
  const connections = useConnections().data;
  const runs = useQuery({
    queryKey: ["onboarding", "runs"],
    queryFn: () => runsApi.list(NO_FILTERS, undefined, null, 1),
  }).data;
  if (!workflows || !connections || !runs) return undefined;
  return { workflows, connections: connections.length, runs: runs.runs.length };
}

function StepAction({ step, facts, onDraw }: { step: GuideStep; facts: Facts; onDraw: () => void }) {
  const kind = step.done ? "btn btn-ghost btn-xs" : "btn btn-secondary btn-xs";
  const workflow = focusWorkflow(facts);
  switch (step.id) {
    case "connect":
      return <a className={kind} href="#/connections">{step.done ? "See connections" : "Add a connection"}</a>;
    case "start":
      return (
        <>
          <a className={kind} href="#/templates">Browse templates</a>
          <button className={kind} onClick={onDraw}>Draw a workflow</button>
        </>
      );
    default:
      return workflow
        ? <a className={kind} href={`#/workflows/${workflow.id}`}>
          Open {workflow.name}<span className="sr-only"> to {step.id === "test" ? "test" : "publish"} it</span></a>
        : <span className="muted small">Start a workflow first</span>;
  }
}

export function GettingStarted({ onDraw }: { onDraw: () => void }) {
  const guide = useGuide();
  const facts = useFacts();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (guide.shown && focusOnShow && heading.current) {
      focusOnShow = false;
      heading.current.focus();
    }
  }, [guide.shown]);
  if (!guide.shown) return null;
  const steps = facts ? guideSteps(facts) : [];
  const done = steps.filter((s) => s.done).length;
  return (
    <section className="card guide" aria-labelledby="getting-started-title" data-testid="getting-started">
      <div className="guide-head">
        <div>
          <h2 id="getting-started-title" ref={heading} tabIndex={-1}>{done === 4 ? "You are all set" : "Getting started"}</h2>
          <p className="muted small" data-testid="guide-progress">
            {facts ? `${done} of ${steps.length} done` : "Checking your workspace…"}
          </p>
        </div>
        <button className="btn btn-ghost btn-xs" onClick={guide.dismiss}>
          <Icon name="close" size={14} />Hide the guide
        </button>
      </div>
      {facts && (
        <div className="guide-progress" aria-hidden="true"><span style={{ width: `${(100 * done) / steps.length}%` }} /></div>
      )}
      <ol className="guide-steps" aria-label="Getting started steps">
        {steps.map((step, i) => (
          <li key={step.id} className="guide-step" data-step={step.id} data-done={step.done}>
            <span className={`guide-tick${step.done ? " done" : ""}`} aria-hidden="true">
              {step.done ? <Icon name="check" size={14} /> : i + 1}
            </span>
            <div className="guide-text">
              <strong>{step.title}</strong>
              <span className="sr-only">{step.done ? " (done)" : " (to do)"}</span>
              <span className="muted small">{step.help}</span>
            </div>
            <div className="guide-actions">{facts && <StepAction step={step} facts={facts} onDraw={onDraw} />}</div>
          </li>
        ))}
      </ol>
    </section>
  );
}
