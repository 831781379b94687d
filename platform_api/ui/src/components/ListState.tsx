// The states of a list before it has rows: loading (announced to screen readers) and empty (what the list is
// for and the next step, as a button or link).
import type { ReactNode } from "react";
import { Icon } from "./Icon";

/** "Loading the runs…" in place of a list that is being read. */
export function Loading({ what }: { what: string }) {
  return (
    <div className="list-loading" role="status" aria-live="polite" data-testid="loading">
      <span className="spinner" aria-hidden="true" />
      <span>Loading {what}…</span>
    </div>
  );
}

type EmptyProps = { title: string; icon?: string; children?: ReactNode; action?: ReactNode };

/** An empty list: a heading that says so, a sentence on what would be here, and the next step. */
export function EmptyState({ title, icon, children, action }: EmptyProps) {
  return (
    <div className="empty card" data-testid="empty">
      {icon && <Icon name={icon} size={32} />}
      <h2>{title}</h2>
      {children && <p className="muted">{children}</p>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  );
}
