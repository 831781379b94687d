// The app shell: session, header and the screens behind "#/".
import { QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useState } from "react";
import { loadSession, saveSession, setUnauthorizedHandler } from "./api/client";
import { queryClient } from "./api/queryClient";
import type { Session } from "./api/types";
import { SkipLink, useFocusOnNavigate } from "./components/SkipLink";
import { ToastProvider } from "./components/Toasts";
import { WorkspaceTimeZone } from "./components/WorkspaceTimeZone";
import { ConnectionsPage } from "./connections/ConnectionsPage";
import { EngineBanner } from "./health/EngineBanner";
import { InboxLink, NotificationBell } from "./inbox/NavItems";
import { navigate, useRoute } from "./lib/route";
import { GettingStartedLink } from "./onboarding/GettingStarted";
import { AuthPage } from "./pages/AuthPage";
import { badgeText } from "./publish/api";
import { usePendingBadge } from "./publish/queries";
import { RunPage } from "./pages/RunPage";
import { RunsPage } from "./pages/RunsPage";
import { AcceptInvitePage } from "./settings/AcceptInvitePage";
import { ResetPasswordPage } from "./settings/ResetPasswordPage";
import { settingsApi } from "./settings/api";
import { useMe } from "./settings/queries";
import { GalleryPage } from "./templates/GalleryPage";
import { TemplatePage } from "./templates/TemplatePage";
import { UpgradeBanner } from "./templates/UpgradeBanner";
import { UpgradePage } from "./templates/UpgradePage";
import { WorkflowsPage } from "./pages/WorkflowsPage";

// The editor (React Flow, dagre) loads only when a workflow is opened: the runs pages stay light on a phone.
const EditorPage = lazy(() => import("./pages/EditorPage").then((m) => ({ default: m.EditorPage })));
// The dashboard's charts (Recharts) load only when it is opened.
const DashboardPage = lazy(() => import("./dashboard/DashboardPage").then((m) => ({ default: m.DashboardPage })));
const SettingsPage = lazy(() => import("./settings/SettingsPage").then((m) => ({ default: m.SettingsPage })));
// The approvals inbox and the notification centre: loaded when opened.
const InboxPage = lazy(() => import("./inbox/InboxPage").then((m) => ({ default: m.InboxPage })));
const NotificationsPage = lazy(() => import("./inbox/NotificationsPage").then((m) => ({ default: m.NotificationsPage })));
// Changes to approve: loaded when opened; one request draws both graphs (React Flow).
const PublishRequestsPage = lazy(() => import("./publish/PublishRequestsPage").then((m) => ({ default: m.PublishRequestsPage })));
const PublishRequestPage = lazy(() => import("./publish/PublishRequestPage").then((m) => ({ default: m.PublishRequestPage })));
// The CRM screens (contacts, companies, the deal board, CSV import): loaded when opened.
const CrmPage = lazy(() => import("./crm/CrmPage").then((m) => ({ default: m.CrmPage })));

/** "Changes to approve", with how many wait for owners and admins (the ones who decide). */
function ApprovalsLink({ active }: { active: boolean }) {
  const role = useMe().data?.role;
  const badge = badgeText(usePendingBadge(role === "owner" || role === "admin").data);
  return (
    <a href="#/publish-requests" className={active ? "active" : ""} aria-label={badge ? `Changes to approve (${badge} waiting)` : "Changes to approve"}>
      <span className="hide-narrow">Changes to approve</span><span className="show-narrow">Changes</span>
      {badge && <span className="nav-badge" data-testid="approvals-badge">{badge}</span>}
    </a>
  );
}

function Header({ session, section, onSignOut }: { session: Session; section: string; onSignOut: () => void }) {
  return (
    <nav className="app-header" aria-label="Main">
      <a className="brand" href="#/" aria-label="Flowyard"><span className="brand-mark" /><span className="hide-narrow">Flowyard</span></a>
      <a href="#/" className={section === "workflows" ? "active" : ""}>Workflows</a>
      <a href="#/runs" className={section === "runs" ? "active" : ""}>Runs</a>
      <a href="#/dashboard" className={section === "dashboard" ? "active" : ""}>Dashboard</a>
      <a href="#/templates" className={section === "templates" ? "active" : ""}>Templates</a>
      <a href="#/connections" className={section === "connections" ? "active" : ""}>Connections</a>
      <a href="#/crm/contacts" className={section === "crm" ? "active" : ""}>CRM</a>
      <InboxLink active={section === "inbox"} />
      <ApprovalsLink active={section === "publish-requests"} />
      <a href="#/settings" className={section === "settings" ? "active" : ""}>Settings</a>
      <span className="toolbar-spacer" />
      <GettingStartedLink />
      <NotificationBell active={section === "notifications"} />
      <span className="muted small hide-narrow">{session.tenant.name ?? session.tenant.slug} · {session.email}</span>
      <button className="btn btn-ghost btn-xs" onClick={onSignOut}>Sign out</button>
    </nav>
  );
}

/** Forgets the session and everything read with it: the next account must not see this one's data. */
function endSession(): void {
  saveSession(null);
  queryClient.clear();
}

/** Another account or workspace is now signed in (an accepted invitation, a switch): nothing read before stays. */
function switchTo(next: Session, setSession: (s: Session) => void): void {
  queryClient.clear();
  saveSession(next);
  setSession(next);
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to), [to]);
  return null;
}

function Screen({ session, setSession }: { session: Session | null; setSession: (s: Session | null) => void }) {
  const { parts, query } = useRoute();
  const [first, id] = parts;
  useFocusOnNavigate(parts.join("/"));
  if (first === "reset-password") return <ResetPasswordPage key={id ?? ""} token={id} />;
  if (first === "invite" && id) return <AcceptInvitePage invitation={id} session={session} onSignedIn={(s) => switchTo(s, setSession)} />;
  if (!session) return <AuthPage mode={first === "signup" ? "signup" : "login"} onSignedIn={setSession} />;
  if (first === "login" || first === "signup") return <Redirect to="/" />;
  const signOut = () => {
    void settingsApi.logout().catch(() => undefined); // the token is read before it is forgotten below
    endSession();
    setSession(null);
    navigate("/login");
  };
  const section = first === "runs" || first === "dashboard" || first === "templates" || first === "connections" || first === "settings"
    || first === "publish-requests" || first === "inbox" || first === "notifications" || first === "crm" ? first : "workflows";
  return (
    <WorkspaceTimeZone>
    <div className={`app${first === "workflows" && id ? " app-editor" : ""}`}>
      <SkipLink />
      <Header session={session} section={section} onSignOut={signOut} />
      <EngineBanner />
      {first === "workflows" && id ? (
        <>
          <UpgradeBanner workflowId={id} />
          <Suspense fallback={<main className="page muted">Loading the editor…</main>}><EditorPage id={id} /></Suspense>
        </>
      )
        : first === "runs" && id ? <RunPage key={id} id={id} />
        : first === "runs" ? <RunsPage key={query.toString()} search={query} />
        : first === "dashboard" ? (
          <Suspense fallback={<main className="page muted">Loading the dashboard…</main>}>
            <DashboardPage workflowId={query.get("workflow")} />
          </Suspense>
        )
        : first === "templates" ? (id ? <TemplatePage slug={id} /> : <GalleryPage />)
        : first === "upgrade" && id ? <UpgradePage key={id} workflowId={id} />
        : first === "connections" ? <ConnectionsPage add={query.get("add")} workflowId={query.get("workflow")} />
        : first === "inbox" || first === "notifications" ? (
          <Suspense fallback={<main className="page muted">Loading…</main>}>
            {first === "inbox" ? <InboxPage /> : <NotificationsPage />}
          </Suspense>
        )
        : first === "publish-requests" ? (
          <Suspense fallback={<main className="page muted">Loading…</main>}>
            {id ? <PublishRequestPage key={id} id={id} /> : <PublishRequestsPage key={query.toString()} search={query} />}
          </Suspense>
        )
        : first === "crm" ? (
          <Suspense fallback={<main className="page muted">Loading…</main>}>
            <CrmPage key={parts.slice(0, 3).join("/")} parts={parts} search={query} />
          </Suspense>
        )
        : first === "settings" ? (
          <Suspense fallback={<main className="page muted">Loading settings…</main>}>
            <SettingsPage section={id} session={session} onSignOut={signOut} onSwitched={(s) => switchTo(s, setSession)} />
          </Suspense>
        )
        : <WorkflowsPage />}
    </div>
    </WorkspaceTimeZone>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  useEffect(() => setUnauthorizedHandler(() => {
    endSession();
    setSession(null);
  }), []);
  return (
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <Screen session={session} setSession={setSession} />
      </ToastProvider>
    </QueryClientProvider>
  );
}
