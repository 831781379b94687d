// How the workspace's live runs went: totals, runs by status, success rate and durations per hour or day, what
// they sent, and where they fail (per workflow, or per step of one workflow with its failures grouped alike, each
// with what to do and its latest run). Works at 390 px wide.
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useWorkflows } from "../api/queries";
import { useToast } from "../components/Toasts";
import { navigate } from "../lib/route";
import { saveBlob } from "../settings/download";
import { ProblemNote } from "../settings/ProblemNote";
import { useWorkspace } from "../settings/queries";
import { chartPoints, csvName, outcomeTiles, RANGES, reportWindow, reportsApi, totalTiles, type Bucket, type RangeKey, type Report, type Tile } from "./api";
import { DurationChart, RunsByStatusChart, SuccessRateChart } from "./Charts";
import { WorkflowHealth } from "./Health";
import { StepTable, WorkflowTable } from "./Tables";
import "./dashboard.css";
import { Loading } from "../components/ListState";

function Tiles({ tiles, label }: { tiles: Tile[]; label: string }) {
  return (
    <dl className="tiles" aria-label={label}>
      {tiles.map((t) => (
        <div key={t.key} className="tile card" data-tile={t.key}>
          <dt className="muted small">{t.label}</dt>
          <dd>{t.value}</dd>
        </div>
      ))}
    </dl>
  );
}

type Controls = { range: RangeKey; bucket: Bucket; workflowId: string | null };

function Pickers({ controls, onChange, onDownload }: { controls: Controls; onChange: (c: Controls) => void; onDownload: () => void }) {
  const workflows = useWorkflows().data;
  return (
    <div className="dashboard-controls">
      <label>Workflow
        <select value={controls.workflowId ?? ""} onChange={(e) => onChange({ ...controls, workflowId: e.target.value || null })}>
          <option value="">All workflows</option>
          {workflows?.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
        </select>
      </label>
      <label>Range
        <select value={controls.range} onChange={(e) => onChange({ ...controls, range: e.target.value as RangeKey })}>
          {RANGES.map((r) => <option key={r.key} value={r.key}>{r.label}</option>)}
        </select>
      </label>
      <div className="bucket-picker" role="group" aria-label="Bucket">
        {(["hour", "day"] as const).map((bucket) => (
          <button key={bucket} type="button" className="btn btn-chip" aria-pressed={controls.bucket === bucket}
            onClick={() => onChange({ ...controls, bucket })}>By {bucket}</button>
        ))}
      </div>
      <button type="button" className="btn btn-secondary" onClick={onDownload}>Download CSV</button>
    </div>
  );
}

function ReportView({ report, timeZone, onOpen }: { report: Report; timeZone?: string; onOpen: (id: string) => void }) {
  const points = useMemo(() => chartPoints(report, timeZone), [report, timeZone]);
  return (
    <>
      <Tiles tiles={totalTiles(report.totals)} label="Totals" />
      {report.totals.runs === 0 && <p className="callout callout-warn">No live runs ended in this range.</p>}
      <div className="charts">
        <RunsByStatusChart points={points} />
        <SuccessRateChart points={points} />
        <DurationChart points={points} />
      </div>
      <h2>What the runs did outside Flowyard</h2>
      <Tiles tiles={outcomeTiles(report.outcomes)} label="Outcomes" />
      {report.workflow_id
        ? <><h2>Steps</h2><StepTable rows={report.steps} /></>
        : <><h2>Workflows</h2><WorkflowTable rows={report.workflows} onOpen={onOpen} /></>}
    </>
  );
}

export function DashboardPage({ workflowId }: { workflowId: string | null }) {
  const [range, setRange] = useState<RangeKey>("7d");
  const [bucket, setBucket] = useState<Bucket>("day");
  const notify = useToast();
  const timeZone = useWorkspace().data?.time_zone;
  const workflows = useWorkflows().data;
  const name = workflowId ? workflows?.find((w) => w.id === workflowId)?.name ?? null : null;
  // The window ends when the report is read: a refresh moves it on.
  const report = useQuery({
    queryKey: ["report", workflowId, range, bucket] as const,
    queryFn: () => reportsApi.report(workflowId, reportWindow(range, bucket)),
  });
  const open = (id: string | null) => navigate(id ? `/dashboard?workflow=${id}` : "/dashboard");
  const change = (next: Controls) => {
    setRange(next.range);
    setBucket(next.bucket);
    if (next.workflowId !== workflowId) open(next.workflowId);
  };
  const download = () => {
    reportsApi.csv(workflowId, reportWindow(range, bucket))
      .then((blob) => saveBlob(blob, csvName(workflowId ? name ?? "workflow" : null, range, bucket)))
      .catch((error: Error) => notify("Could not download the CSV", "error", error.message));
  };

  return (
    <main className="page dashboard-page">
      <div className="page-head">
        <h1>{name ? `Dashboard: ${name}` : "Dashboard"}</h1>
      </div>
      <Pickers controls={{ range, bucket, workflowId }} onChange={change} onDownload={download} />
      <ProblemNote error={report.error} />
      {report.isPending && <Loading what="the report" />}
      {workflowId && <WorkflowHealth key={workflowId} workflowId={workflowId} range={range} bucket={bucket} />}
      {report.data && <ReportView report={report.data} timeZone={timeZone} onOpen={open} />}
    </main>
  );
}
