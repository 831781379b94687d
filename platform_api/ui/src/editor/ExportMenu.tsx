// The editor's Export menu: the workflow's latest saved version as a file (JSON, YAML or BPMN 2.0), named by
// its key (docs/workflow-files.md).
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../api/client";
import type { Workflow } from "../api/types";
import { useToast } from "../components/Toasts";
import { saveBlob } from "../settings/download";
import { workflowFiles } from "../workflows/api";
import { exportFileName, type FileFormat } from "../workflows/files";

const CHOICES: { format: FileFormat; label: string; note: string }[] = [
  { format: "flowyard", label: "JSON", note: "Flowyard file: import it here or deploy it with flowyard deploy" },
  { format: "yaml", label: "YAML", note: "The same file, easy to read and review in Git" },
  { format: "bpmn", label: "BPMN 2.0", note: "The steps as a BPMN diagram for other tools" },
];

export function ExportMenu({ workflow, dirty }: { workflow: Pick<Workflow, "id" | "slug">; dirty: boolean }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState<FileFormat | null>(null);
  const anchor = useRef<HTMLDivElement>(null);
  const toast = useToast();

  useEffect(() => {
    if (!open) return;
    const away = (e: MouseEvent) => anchor.current && !anchor.current.contains(e.target as Node) && setOpen(false);
    const escape = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("mousedown", away);
    window.addEventListener("keydown", escape);
    return () => {
      document.removeEventListener("mousedown", away);
      window.removeEventListener("keydown", escape);
    };
  }, [open]);

  const exportAs = async (format: FileFormat) => {
    setBusy(format);
    try {
      const { blob, fileName } = await workflowFiles.exportWorkflow(workflow.id, format);
      let document: unknown;
      if (format === "flowyard" && !fileName) document = JSON.parse(await blob.text());
      saveBlob(blob, exportFileName(format, workflow.slug, fileName, document));
      setOpen(false);
    } catch (error) {
      const hint = error instanceof ApiError && error.hint ? ` ${error.hint}` : "";
      toast(`Could not export: ${(error as Error).message}${hint}`, "error");
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="menu-anchor" ref={anchor}>
      <button className="btn btn-ghost" onClick={() => setOpen(!open)} aria-expanded={open} aria-haspopup="menu" aria-label="Export">
        <span aria-hidden="true">⤓</span> <span className="hide-narrow">Export</span>
      </button>
      {open && (
        <div className="popover export-menu" role="menu" aria-label="Export as">
          <h3>Export as</h3>
          {dirty && <p className="muted small">Unsaved changes are not in the file: save first to include them.</p>}
          <ul>
            {CHOICES.map((choice) => (
              <li key={choice.format}>
                <button role="menuitem" className="export-choice" onClick={() => exportAs(choice.format)} disabled={!!busy}
                  data-format={choice.format}>
                  <strong>{busy === choice.format ? "Exporting…" : choice.label}</strong>
                  <span className="muted small">{choice.note}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
