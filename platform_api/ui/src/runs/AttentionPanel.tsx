// A run that needs attention: one of its steps may have reached a service that cannot tell a repeat, so Flowyard
// neither sent it again nor failed the run. The person checks the service, then says which it was.
import type { Run } from "../api/types";
import { ProblemNote } from "../settings/ProblemNote";
import { useMe } from "../settings/queries";
import { useResolveAttention } from "./queries";

export function AttentionPanel({ run, labelOf }: { run: Run; labelOf: (nodeId: string) => string }) {
  const resolve = useResolveAttention(run.id);
  const me = useMe().data;
  if (run.status !== "needs_attention") return null;
  const refused = me && !me.permissions.includes("run") ? "Only an operator or above can answer this." : undefined;
  const step = run.error?.node_id ? labelOf(run.error.node_id) : "A step";
  const busy = resolve.isPending || !!refused;
  return (
    <section className="callout callout-warn attention" data-testid="needs-attention" aria-label="Needs your attention">
      <p><strong>{step} may already have been sent.</strong> The service took the request but never answered, so
        Flowyard did not send it again and the run waits for you.</p>
      <p>Check in the service whether it arrived, then:</p>
      <div className="run-actions" role="group" aria-label="Was it sent?">
        <button className="btn btn-primary" disabled={busy} title={refused} onClick={() => resolve.mutate("mark_sent")}>
          It arrived: mark as sent
        </button>
        <button className="btn btn-secondary" disabled={busy} title={refused} onClick={() => resolve.mutate("send_again")}>
          It did not: send again
        </button>
      </div>
      <ProblemNote error={resolve.error} />
    </section>
  );
}
