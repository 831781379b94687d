// Keyboard shortcuts of the editor (Delete is handled by the canvas itself).
import { useEffect, useEffectEvent } from "react";

type Actions = { undo: () => void; redo: () => void; copy: () => void; paste: () => void; save: () => void };

const isTyping = (target: EventTarget | null) =>
  target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

export function useShortcuts(actions: Actions | null): void {
  const onKey = useEffectEvent((e: KeyboardEvent) => {
    const a = actions;
    if (!a || !(e.ctrlKey || e.metaKey)) return;
    const key = e.key.toLowerCase();
    if (key === "s") return (e.preventDefault(), a.save());
    if (isTyping(e.target)) return;
    const action = { z: e.shiftKey ? a.redo : a.undo, y: a.redo, c: a.copy, v: a.paste }[key];
    if (action) {
      e.preventDefault();
      action();
    }
  });
  useEffect(() => {
    const listener = (e: KeyboardEvent) => onKey(e);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);
}
