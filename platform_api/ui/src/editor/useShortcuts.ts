// Keyboard shortcuts of the editor (Delete is handled by the canvas itself).
import { useEffect, useRef } from "react";

type Actions = { undo: () => void; redo: () => void; copy: () => void; paste: () => void; save: () => void };

const isTyping = (target: EventTarget | null) =>
  target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

export function useShortcuts(actions: Actions | null): void {
  const latest = useRef(actions);
  latest.current = actions;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const a = latest.current;
      if (!a || !(e.ctrlKey || e.metaKey)) return;
      const key = e.key.toLowerCase();
      if (key === "s") return (e.preventDefault(), a.save());
      if (isTyping(e.target)) return;
      const action = { z: e.shiftKey ? a.redo : a.undo, y: a.redo, c: a.copy, v: a.paste }[key];
      if (action) {
        e.preventDefault();
        action();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
