// The navigation's approvals inbox link (with how many wait for the signed-in person) and notification bell
// (with how many are unread). Both read again every 30 s.
import { countText } from "./api";
import { usePendingApprovals, useUnreadCount } from "./queries";
import "./inbox.css";

export function InboxLink({ active }: { active: boolean }) {
  const badge = countText(usePendingApprovals().data?.length);
  return (
    <a href="#/inbox" className={active ? "active" : ""} aria-label={badge ? `Inbox (${badge} waiting for you)` : "Inbox"}
      aria-current={active ? "page" : undefined}>
      Inbox{badge && <span className="nav-badge" data-testid="inbox-badge">{badge}</span>}
    </a>
  );
}

export function NotificationBell({ active }: { active: boolean }) {
  const badge = countText(useUnreadCount().data?.unread);
  return (
    <a href="#/notifications" className={`bell${active ? " active" : ""}`} aria-current={active ? "page" : undefined}
      aria-label={badge ? `Notifications (${badge} unread)` : "Notifications"} data-testid="notification-bell">
      <svg width={18} height={18} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={2} strokeLinecap="round"
        strokeLinejoin="round" aria-hidden="true" className="icon">
        <path d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.9 1.9 0 0 0 3.4 0" />
      </svg>
      {badge && <span className="nav-badge" data-testid="bell-badge">{badge}</span>}
    </a>
  );
}
