// CSV import of contacts in three steps: pick a file; map its columns to contact fields (with the first rows as
// they would be read); import, with a progress bar fed by the server's streamed progress, and every refused row
// listed with its line, field and reason (the other rows are kept).
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Modal } from "../components/Modal";
import { ProblemNote } from "../settings/ProblemNote";
import { crmApi, FIELD_LABELS, targetOptions, type ImportPreview, type ImportProgress } from "./api";

type Step = { kind: "pick" } | { kind: "map"; file: File; preview: ImportPreview } | { kind: "import"; file: File; total: number };

export function ImportDialog({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const [step, setStep] = useState<Step>({ kind: "pick" });
  const [columns, setColumns] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<ImportProgress | null>(null);
  const [errors, setErrors] = useState<ImportProgress["errors"]>([]);
  const [finished, setFinished] = useState(false);

  const pick = async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    setBusy(true);
    try {
      const preview = await crmApi.preview(file);
      setColumns(preview.suggested.map((s) => s ?? ""));
      setStep({ kind: "map", file, preview });
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };

  const start = async () => {
    if (step.kind !== "map") return;
    setError(null);
    setErrors([]);
    setProgress(null);
    setStep({ kind: "import", file: step.file, total: step.preview.total_rows });
    try {
      await crmApi.importContacts(step.file, columns.map((c) => c || null), (line) => {
        setProgress(line);
        if (line.errors.length) setErrors((all) => [...all, ...line.errors]);
      });
    } catch (problem) {
      setError(problem);
    } finally {
      setFinished(true);
      void client.invalidateQueries({ queryKey: ["crm"] });
    }
  };

  const close = () => {
    if (step.kind === "import" && !finished) return; // the import goes on while this is open
    onClose();
  };

  const percent = progress && progress.total ? Math.round((progress.processed / progress.total) * 100) : 0;
  const footer = step.kind === "pick" ? <button className="btn btn-ghost" onClick={onClose}>Cancel</button>
    : step.kind === "map" ? <>
      <button className="btn btn-ghost" onClick={() => setStep({ kind: "pick" })}>Back</button>
      <button className="btn btn-primary" onClick={() => void start()}>Import {step.preview.total_rows.toLocaleString()} contacts</button>
    </>
    : <button className="btn btn-primary" onClick={onClose} disabled={!finished}>{finished ? "Done" : "Importing…"}</button>;

  return (
    <Modal title="Import contacts from CSV" onClose={close} footer={footer} wide>
      {step.kind === "pick" && (
        <div className="crm-import-pick">
          <p>A CSV file with a header row: UTF-8, at most 10,000 rows and 1 MB. A row whose email is already in your CRM updates that
            contact; the others are added. Each new or changed contact starts the workflows that listen for contact changes.</p>
          <label className="btn btn-secondary">Choose a CSV file
            <input className="sr-only" type="file" accept=".csv,text/csv" aria-label="CSV file" disabled={busy}
              onChange={(e) => void pick(e.target.files?.[0])} />
          </label>
          {busy && <p className="muted">Reading the file…</p>}
        </div>
      )}
      {step.kind === "map" && (
        <div className="crm-import-map">
          <p className="muted small">{step.preview.total_rows.toLocaleString()} rows in {step.file.name}. Pick the contact field each column
            holds; the first rows show what would be imported.</p>
          <div className="crm-table-wrap">
            <table className="crm-table" aria-label="Column mapping">
              <thead><tr><th>Column</th><th>Contact field</th><th>First rows</th></tr></thead>
              <tbody>
                {step.preview.headers.map((header, i) => (
                  <tr key={`${i}-${header}`}>
                    <td><strong>{header || `Column ${i + 1}`}</strong></td>
                    <td>
                      <select aria-label={`Field for ${header || `column ${i + 1}`}`} value={columns[i] ?? ""}
                        onChange={(e) => setColumns(columns.map((c, j) => (j === i ? e.target.value : c)))}>
                        {targetOptions(header, step.preview.fields).map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
                      </select>
                    </td>
                    <td className="muted small crm-samples">{step.preview.rows.map((r) => r[i] ?? "").filter(Boolean).slice(0, 3).join(" · ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h3>Preview</h3>
          <div className="crm-table-wrap">
            <table className="crm-table" aria-label="Preview">
              <thead><tr>{columns.map((c, i) => c && <th key={i}>{FIELD_LABELS[c] ?? c.replace("properties.", "")}</th>)}</tr></thead>
              <tbody>
                {step.preview.rows.map((row, r) => (
                  <tr key={r}>{columns.map((c, i) => c && <td key={i}>{row[i] ?? ""}</td>)}</tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
      {step.kind === "import" && (
        <div className="crm-import-run">
          <div className="crm-progress" role="progressbar" aria-label="Import progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
            <span style={{ width: `${percent}%` }} />
          </div>
          <p data-testid="import-status">
            {progress ? `${progress.processed.toLocaleString()} of ${progress.total.toLocaleString()} rows` : "Starting…"}
            {progress && ` · ${progress.created.toLocaleString()} added · ${progress.updated.toLocaleString()} updated · ${progress.failed.toLocaleString()} refused`}
            {finished && progress?.done && " · finished"}
          </p>
          {errors.length > 0 && (
            <div className="crm-table-wrap crm-import-errors">
              <table className="crm-table" aria-label="Refused rows">
                <thead><tr><th>Line</th><th>Field</th><th>Reason</th></tr></thead>
                <tbody>
                  {errors.map((e) => (
                    <tr key={`${e.line}-${e.field}`}><td>{e.line}</td><td>{e.field}</td><td>{e.message}{e.hint && <span className="muted small"> {e.hint}</span>}</td></tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
      <ProblemNote error={error} />
    </Modal>
  );
}
