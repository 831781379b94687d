const LABELS: Record<string, string> = {
  pending: "Pending", scheduled: "Scheduled", running: "Running", waiting: "Waiting", needs_attention: "Needs attention", completed: "Completed",
  failed: "Failed", cancelled: "Cancelled", skipped: "Skipped (disabled)", draft: "Draft", published: "Published",
};

export function StatusPill({ status }: { status: string }) {
  return <span className={`pill pill-${status}`} data-status={status}>{LABELS[status] ?? status}</span>;
}
