// The keyboard shortcuts help (? or the toolbar's keyboard button), listed from SHORTCUTS itself.
import { Modal } from "../components/Modal";
import { isMac, keyLabels, SHORTCUTS } from "./shortcuts";

export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  const mac = isMac();
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose} footer={<button className="btn btn-primary" onClick={onClose}>Close</button>}>
      <table className="shortcuts-table">
        <caption className="sr-only">Keyboard shortcuts of the editor</caption>
        <thead><tr><th scope="col">Keys</th><th scope="col">What it does</th></tr></thead>
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.action} data-action={s.action}>
              <td>{keyLabels(s.keys, mac).map((k, i) => <span key={i}>{i > 0 && "+"}<kbd>{k}</kbd></span>)}</td>
              <td>{s.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">In the Find dialog: ↑ and ↓ move, Enter opens the step, Escape closes.</p>
    </Modal>
  );
}
