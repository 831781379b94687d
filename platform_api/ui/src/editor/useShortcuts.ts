// The editor's keyboard shortcuts, from the one list in shortcuts.ts (Delete is handled by the canvas).
import { useEffect, useEffectEvent } from "react";
import { shortcutFor, type ShortcutAction } from "./shortcuts";

type Actions = Partial<Record<ShortcutAction, () => void>>;

const isTyping = (target: EventTarget | null) =>
  target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

/** `readOnly`: only the shortcuts that change nothing (find, help, copy) work. */
export function useShortcuts(actions: Actions, readOnly: boolean): void {
  const onKey = useEffectEvent((e: KeyboardEvent) => {
    const shortcut = shortcutFor(e);
    if (!shortcut || (readOnly && shortcut.edits)) return;
    if (!shortcut.whileTyping && isTyping(e.target)) return;
    if (document.querySelector('[role="dialog"][aria-modal="true"]') && shortcut.action !== "save") return;
    const action = actions[shortcut.action];
    if (!action) return;
    e.preventDefault();
    action();
  });
  useEffect(() => {
    const listener = (e: KeyboardEvent) => onKey(e);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);
}
