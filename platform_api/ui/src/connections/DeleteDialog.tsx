// Deleting a connection, confirmed first; refused while workflows use it, which are then linked.
import { Modal } from "../components/Modal";
import type { Connection } from "./api";
import { errorMessage, workflowsUsing } from "./messages";
import { useDeleteConnection } from "./queries";

type Props = { connection: Connection; onDeleted: () => void; onClose: () => void };

export function DeleteDialog({ connection, onDeleted, onClose }: Props) {
  const deletion = useDeleteConnection();
  const blocked = deletion.error && errorMessage(deletion.error);
  const users = workflowsUsing(deletion.error);
  const remove = () => deletion.mutate(connection.id, { onSuccess: onDeleted });
  const footer = (
    <>
      <button className="btn btn-ghost" onClick={onClose}>{blocked ? "Close" : "Cancel"}</button>
      {!blocked && (
        <button className="btn btn-danger" onClick={remove} disabled={deletion.isPending}>
          {deletion.isPending ? "Deleting…" : "Delete"}
        </button>
      )}
    </>
  );
  return (
    <Modal title={`Delete “${connection.name}”?`} onClose={onClose} footer={footer}>
      <p>Its credentials are erased from Flowyard. Steps cannot send through it any more.</p>
      {blocked && (
        <div className="callout callout-error" role="alert">
          <strong>{blocked.message}</strong>
          {blocked.hint && <p>{blocked.hint}</p>}
          {users.length > 0 && (
            <ul aria-label="Workflows using it" className="connection-users">
              {users.map((u) => (
                <li key={u.workflow_id}><a href={`#/workflows/${u.workflow_id}`} title={u.message}>{u.workflow_name}</a></li>
              ))}
            </ul>
          )}
        </div>
      )}
    </Modal>
  );
}
