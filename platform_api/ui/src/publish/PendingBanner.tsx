// Above the editor's canvas once Publish was sent for approval: which version waits, and a link to the request.
import type { PublishPending } from "../api/queries";
import { pendingText } from "./api";

export function PendingBanner({ pending, onClose }: { pending: PublishPending; onClose: () => void }) {
  return (
    <div className="banner banner-info" role="status" data-testid="pending-banner">
      {pendingText(pending.version)}.
      <a className="btn btn-secondary btn-xs" href={`#/publish-requests/${pending.request_id}`}>See the request</a>
      <button className="btn btn-ghost btn-xs" onClick={onClose}>Dismiss</button>
    </div>
  );
}
