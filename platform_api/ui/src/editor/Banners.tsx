// Notices above the canvas: read-only on a small screen, offline, and unsaved work kept in the browser.
import { useEffect, useState } from "react";
import { useDates } from "../lib/dates";
import type { Draft } from "../lib/drafts";

export function ReadOnlyBanner() {
  return <div className="banner banner-info">Editing needs a larger screen: this is a read-only view. Tap a step to see it.</div>;
}

export function NarrowBanner() {
  return (
    <div className="banner banner-info" data-testid="narrow-banner">
      On a phone: pick a step from the list to change its settings, then publish. Moving, connecting and adding steps on the canvas needs a larger screen.
    </div>
  );
}

export function OfflineBanner() {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    };
  }, []);
  return online ? null : <div className="banner banner-warn">You are offline. Your changes are kept in this browser until you can save.</div>;
}

export function DraftBanner({ draft, onRestore, onDiscard }: { draft: Draft; onRestore: () => void; onDiscard: () => void }) {
  const { ago: timeAgo } = useDates();
  return (
    <div className="banner banner-warn" data-testid="draft-banner">
      Unsaved changes from {timeAgo(draft.savedAt)} were kept in this browser.
      <button className="btn btn-primary btn-xs" onClick={onRestore}>Restore them</button>
      <button className="btn btn-ghost btn-xs" onClick={onDiscard}>Discard</button>
    </div>
  );
}
