// The deal pipeline (#/crm/deals): a column per stage (GET /deal-stages), cards dragged between columns with the
// browser's own drag and drop, or moved with the stage select on each card (the keyboard's way). A move is the
// API's PATCH of the deal, so it fires data-change triggers exactly as an API change does.
import { useQueryClient } from "@tanstack/react-query";
import { useState, type DragEvent, type FormEvent } from "react";
import { Modal } from "../components/Modal";
import { useToast } from "../components/Toasts";
import { asProblem, FieldProblem, ProblemNote } from "../settings/ProblemNote";
import { byStage, crmApi, STAGE_LABELS, type Deal, type Stage } from "./api";
import { CompanySelect } from "./CompanySelect";
import { crmKeys, useDeals, useMoveDeal, useStages } from "./queries";

const DEAL_MIME = "application/x-flowyard-deal";

function money(deal: Deal): string {
  if (deal.amount == null) return "";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: deal.currency }).format(deal.amount);
  } catch {
    return `${deal.amount} ${deal.currency}`;
  }
}

export function DealsBoard() {
  const stages = useStages();
  const deals = useDeals();
  const move = useMoveDeal();
  const notify = useToast();
  const [over, setOver] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const columns = byStage(deals.data ?? [], stages.data ?? []);
  const moveTo = (id: string, stage: Stage) => {
    const deal = deals.data?.find((d) => d.id === id);
    if (!deal || deal.stage === stage) return;
    move.mutate({ id, stage }, {
      onSuccess: () => notify(`Moved “${deal.title}” to ${STAGE_LABELS[stage] ?? stage}`, "success"),
      onError: (error) => notify(`“${deal.title}” was not moved`, "error", asProblem(error)?.message),
    });
  };
  const drop = (stage: Stage) => (e: DragEvent) => {
    e.preventDefault();
    setOver(null);
    const id = e.dataTransfer.getData(DEAL_MIME);
    if (id) moveTo(id, stage);
  };
  const total = (list: Deal[]) => list.reduce((sum, d) => sum + (d.amount ?? 0), 0);
  return (
    <>
      <div className="page-head">
        <h1>Deals</h1>
        <button className="btn btn-primary" onClick={() => setCreating(true)}>New deal</button>
      </div>
      <p className="muted small">Drag a card to another stage, or pick its stage in the card. Each move is saved at once and starts the
        workflows that listen for deal changes.</p>
      {(stages.error || deals.error) && <ProblemNote error={stages.error ?? deals.error} />}
      {(!stages.data || !deals.data) && !stages.error && !deals.error && <p className="muted">Loading…</p>}
      <div className="deal-board" role="list" aria-label="Deal pipeline">
        {stages.data?.map((stage) => (
          <section key={stage} role="listitem" className={`deal-column${over === stage ? " drop-target" : ""}`} data-stage={stage}
            aria-label={STAGE_LABELS[stage] ?? stage}
            onDragOver={(e) => { if (e.dataTransfer.types.includes(DEAL_MIME)) { e.preventDefault(); setOver(stage); } }}
            onDragLeave={() => setOver((current) => (current === stage ? null : current))}
            onDrop={drop(stage)}>
            <h2>{STAGE_LABELS[stage] ?? stage} <span className="muted small">{columns[stage]?.length ?? 0}</span></h2>
            <p className="muted small deal-total">{total(columns[stage] ?? []) ? new Intl.NumberFormat().format(total(columns[stage] ?? [])) : "\u00a0"}</p>
            <ul className="deal-cards">
              {columns[stage]?.map((deal) => (
                <li key={deal.id} className="deal-card" draggable data-deal-id={deal.id}
                  onDragStart={(e) => { e.dataTransfer.setData(DEAL_MIME, deal.id); e.dataTransfer.effectAllowed = "move"; }}>
                  <a href={`#/crm/deals/${deal.id}`} draggable={false}><strong>{deal.title}</strong></a>
                  <div className="muted small">{money(deal)}{deal.test_data && <span className="tag tag-warn">test</span>}</div>
                  <select aria-label={`Stage of ${deal.title}`} value={deal.stage} onChange={(e) => moveTo(deal.id, e.target.value as Stage)}>
                    {stages.data.map((s) => <option key={s} value={s}>{STAGE_LABELS[s] ?? s}</option>)}
                  </select>
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
      {creating && <NewDeal stages={stages.data ?? []} onClose={() => setCreating(false)} />}
    </>
  );
}

function NewDeal({ stages, onClose }: { stages: Stage[]; onClose: () => void }) {
  const client = useQueryClient();
  const [form, setForm] = useState({ title: "", amount: "", currency: "USD", stage: (stages[0] ?? "lead") as Stage, company_id: "" });
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await crmApi.createDeal({
        title: form.title, stage: form.stage, currency: form.currency, amount: form.amount.trim() ? Number(form.amount) : null,
        company_id: form.company_id || null,
      });
      await client.invalidateQueries({ queryKey: crmKeys.deals });
      onClose();
    } catch (problem) {
      setError(problem);
    }
  };
  return (
    <Modal title="New deal" onClose={onClose} footer={<>
      <button className="btn btn-ghost" onClick={onClose}>Cancel</button>
      <button className="btn btn-primary" type="submit" form="new-deal">Add deal</button>
    </>}>
      <form id="new-deal" className="crm-form" noValidate onSubmit={(e) => void submit(e)}>
        <label>Title<input value={form.title} onChange={(e) => setForm({ ...form, title: e.target.value })} required /><FieldProblem error={error} path="title" /></label>
        <label>Amount<input type="number" step="0.01" value={form.amount} onChange={(e) => setForm({ ...form, amount: e.target.value })} /><FieldProblem error={error} path="amount" /></label>
        <label>Currency<input value={form.currency} onChange={(e) => setForm({ ...form, currency: e.target.value })} /><FieldProblem error={error} path="currency" /></label>
        <label>Stage
          <select value={form.stage} onChange={(e) => setForm({ ...form, stage: e.target.value as Stage })}>
            {stages.map((s) => <option key={s} value={s}>{STAGE_LABELS[s] ?? s}</option>)}
          </select>
        </label>
        <label>Company<CompanySelect label="Company" empty="No company" value={form.company_id} onChange={(company_id) => setForm({ ...form, company_id })} /></label>
        <ProblemNote error={error} fields={["title", "amount", "currency"]} />
      </form>
    </Modal>
  );
}
