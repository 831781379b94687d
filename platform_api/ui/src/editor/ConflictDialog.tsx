import { Modal } from "../components/Modal";

type Props = { onReload: () => void; onKeepBoth: () => void; onClose: () => void };

export function ConflictDialog({ onReload, onKeepBoth, onClose }: Props) {
  return (
    <Modal title="Someone else saved this workflow" onClose={onClose} footer={
      <>
        <button className="btn btn-secondary" onClick={onClose}>Not now</button>
        <button className="btn btn-secondary" onClick={onReload}>Reload their version</button>
        <button className="btn btn-primary" onClick={onKeepBoth}>Keep both</button>
      </>
    }>
      <p>
        While you were editing, a newer version was saved. Saving now would hide their changes.
      </p>
      <ul>
        <li><strong>Reload their version</strong> shows the latest saved workflow and drops your unsaved changes.</li>
        <li><strong>Keep both</strong> saves your changes as a copy of this workflow, next to theirs.</li>
      </ul>
    </Modal>
  );
}
