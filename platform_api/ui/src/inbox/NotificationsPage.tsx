// The notification centre (#/notifications): the signed-in person's notifications grouped by kind, unread ones
// marked, each leading to its run, publish request, workflow or template (opening one marks it read); mark one or
// all read; and which emails this workspace sends them.
import { useState } from "react";
import { useToast } from "../components/Toasts";
import { useDates } from "../lib/dates";
import { navigate } from "../lib/route";
import { ProblemNote } from "../settings/ProblemNote";
import { EMAIL_LABELS, groupByKind, notificationLink, type EmailKind, type Notification, type Preferences } from "./api";
import { useMarkRead, useNotifications, usePreferences, useSavePreferences } from "./queries";
import "./inbox.css";
import { Loading } from "../components/ListState";

function NotificationItem({ note }: { note: Notification }) {
  const { dateTime, ago: timeAgo } = useDates();
  const mark = useMarkRead();
  const link = notificationLink(note);
  const unread = !note.read_at;
  const open = (event: React.MouseEvent) => {
    if (!link) return;
    event.preventDefault();
    if (unread) mark.mutate(note.id);
    navigate(link.href.slice(1));
  };
  return (
    <li className={`notification${unread ? " unread" : ""}`} data-notification-id={note.id} data-kind={note.kind}
      data-unread={unread ? "true" : "false"}>
      <div className="notification-main">
        <strong>{unread && <span className="unread-dot" aria-label="Unread" role="img" />}{note.title}</strong>
        <p className="notification-body">{note.body}</p>
        <div className="muted small"><span title={dateTime(note.created_at)}>{timeAgo(note.created_at)}</span></div>
      </div>
      <div className="row notification-actions">
        {link && <a className="btn btn-secondary btn-xs" href={link.href} onClick={open}>{link.label}</a>}
        {unread && (
          <button type="button" className="btn btn-ghost btn-xs" onClick={() => mark.mutate(note.id)} disabled={mark.isPending}
            aria-label={`Mark “${note.title}” read`}>Mark read</button>
        )}
      </div>
    </li>
  );
}

function EmailPreferences() {
  const { data, error } = usePreferences();
  const save = useSavePreferences();
  const toast = useToast();
  const [draft, setDraft] = useState<Preferences | null>(null);
  const shown = draft ?? data;
  const kinds = Object.keys(EMAIL_LABELS) as EmailKind[];
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    if (!shown) return;
    save.mutate(shown, { onSuccess: () => { setDraft(null); toast("Email preferences saved", "success"); } });
  };
  return (
    <section className="card email-preferences" aria-labelledby="email-prefs-title">
      <h2 id="email-prefs-title">Emails to you</h2>
      <p className="muted small">Notifications always appear here; these choose which of them this workspace also emails you
        (through its SendGrid connection marked for alerts).</p>
      {error && <ProblemNote error={error} />}
      {!shown && !error && <p className="muted" role="status">Loading…</p>}
      {shown && (
        <form onSubmit={submit}>
          <fieldset className="choice-group">
            <legend>Email me when</legend>
            {kinds.map((kind) => (
              <label key={kind} className="check-row">
                <input type="checkbox" checked={shown.email[kind]} aria-describedby={`email-${kind}-help`}
                  onChange={(e) => setDraft({ email: { ...shown.email, [kind]: e.target.checked } })} />
                <span>{EMAIL_LABELS[kind].label}<span className="help" id={`email-${kind}-help`}>{EMAIL_LABELS[kind].help}</span></span>
              </label>
            ))}
          </fieldset>
          <ProblemNote error={save.error} />
          <div className="row"><button className="btn btn-primary" type="submit" disabled={!draft || save.isPending}>
            {save.isPending ? "Saving…" : "Save email preferences"}</button></div>
        </form>
      )}
    </section>
  );
}

export function NotificationsPage() {
  const { data, error } = useNotifications();
  const mark = useMarkRead();
  const unread = data?.filter((n) => !n.read_at).length ?? 0;
  return (
    <main className="page notifications-page">
      <div className="page-head">
        <div>
          <h1>Notifications</h1>
          <p className="muted small">{data ? (unread ? `${unread} unread` : "All read") : "\u00a0"}</p>
        </div>
        <button type="button" className="btn btn-secondary" onClick={() => mark.mutate("all")} disabled={!unread || mark.isPending}>
          Mark all read
        </button>
      </div>
      {error && <div className="callout callout-error" role="alert"><strong>{error.message}</strong></div>}
      {!data && !error && <Loading what="notifications" />}
      {data?.length === 0 && (
        <div className="empty card" data-testid="notifications-empty">
          <h2>No notifications yet</h2>
          <p className="muted">Failed steps, alerts, trigger changes, changes to approve and template updates appear here.</p>
          <a className="btn btn-secondary" href="#/settings/alerts">Set up alerts</a>
        </div>
      )}
      {data && groupByKind(data).map((group) => (
        <section key={group.kind} className="notification-group" aria-labelledby={`group-${group.kind}`} data-kind={group.kind}>
          <h2 id={`group-${group.kind}`}>{group.label} <span className="muted small">({group.items.length})</span></h2>
          <ul className="list notifications-list">
            {group.items.map((n) => <NotificationItem key={n.id} note={n} />)}
          </ul>
        </section>
      ))}
      <EmailPreferences />
    </main>
  );
}
