// Settings: the workspace, its members, API keys, alerts and their rules, audit log and privacy acts, and the
// signed-in user's account. `#/settings/<section>`; sections the role may not open say why instead of showing a form.
import type { Session } from "../api/types";
import { AccountSection } from "./AccountSection";
import { AlertsSection } from "./AlertsSection";
import { ApiKeysSection } from "./ApiKeysSection";
import { AuditSection } from "./AuditSection";
import { MembersSection } from "./MembersSection";
import { PrivacySection } from "./PrivacySection";
import { useMe } from "./queries";
import { WorkspaceSection } from "./WorkspaceSection";
import "./settings.css";

const SECTIONS = [
  { id: "workspace", label: "Workspace" },
  { id: "members", label: "Members" },
  { id: "api-keys", label: "API keys" },
  { id: "alerts", label: "Alerts" },
  { id: "audit", label: "Audit log" },
  { id: "privacy", label: "Privacy" },
  { id: "account", label: "Your account" },
] as const;

type Props = { section: string | undefined; session: Session; onSignOut: () => void; onSwitched: (s: Session) => void };

export function SettingsPage({ section, session, onSignOut, onSwitched }: Props) {
  const current = SECTIONS.find((s) => s.id === section) ?? SECTIONS[0];
  const { data: me, error } = useMe();
  return (
    <main className="page settings-page">
      <div className="page-head">
        <div>
          <h1>Settings</h1>
          <span className="muted">{me ? `${me.tenant.name} · you are ${/^[aeiou]/.test(me.role) ? "an" : "a"} ${me.role}` : "\u00a0"}</span>
        </div>
      </div>
      {error && <div className="callout callout-error" role="alert">{error.message}</div>}
      <div className="settings-layout">
        <nav className="settings-nav" aria-label="Settings">
          {SECTIONS.map((s) => (
            <a key={s.id} href={`#/settings/${s.id}`} className={s.id === current.id ? "active" : ""}
              aria-current={s.id === current.id ? "page" : undefined}>{s.label}</a>
          ))}
        </nav>
        <section className="settings-body" aria-label={current.label}>
          {current.id === "workspace" && <WorkspaceSection me={me} onSwitched={onSwitched} />}
          {current.id === "members" && <MembersSection me={me} />}
          {current.id === "api-keys" && <ApiKeysSection me={me} />}
          {current.id === "alerts" && <AlertsSection me={me} />}
          {current.id === "audit" && <AuditSection me={me} />}
          {current.id === "privacy" && <PrivacySection me={me} slug={me?.tenant.slug ?? session.tenant.slug} onDeleted={onSignOut} />}
          {current.id === "account" && <AccountSection session={session} onSignOut={onSignOut} />}
        </section>
      </div>
    </main>
  );
}
