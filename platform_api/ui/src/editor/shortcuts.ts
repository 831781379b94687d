// Every keyboard shortcut of the editor, in one list: the key handler (useShortcuts) and the canvas
// match keys through it, and the help dialog (ShortcutsHelp) lists it, so the help never drifts.

export type ShortcutAction = "find" | "help" | "save" | "undo" | "redo" | "copy" | "paste" | "layout" | "delete";

/** The modifier a person presses for "Ctrl": Cmd on a Mac. */
type Mod = "mod" | "mod+shift" | "shift" | "none";

export type Shortcut = {
  action: ShortcutAction;
  /** What the help shows, e.g. ["Ctrl", "K"]; "Ctrl" reads "Cmd" on a Mac. */
  keys: string[];
  description: string;
  /** It changes the workflow: off in a read-only editor. */
  edits: boolean;
  /** It also works while typing in a field. */
  whileTyping?: boolean;
  /** Handled by the canvas itself (React Flow), not by useShortcuts. */
  canvas?: boolean;
  match: { key: string; mod: Mod }[];
};

const ctrl = (key: string, shift = false) => ({ key, mod: shift ? ("mod+shift" as const) : ("mod" as const) });

export const SHORTCUTS: Shortcut[] = [
  { action: "find", keys: ["Ctrl", "K"], description: "Find a step by name, id or type", edits: false, whileTyping: true, match: [ctrl("k")] },
  { action: "help", keys: ["?"], description: "Show these keyboard shortcuts", edits: false, match: [{ key: "?", mod: "shift" }, { key: "?", mod: "none" }] },
  { action: "save", keys: ["Ctrl", "S"], description: "Save", edits: true, whileTyping: true, match: [ctrl("s")] },
  { action: "undo", keys: ["Ctrl", "Z"], description: "Undo", edits: true, match: [ctrl("z")] },
  { action: "redo", keys: ["Ctrl", "Shift", "Z"], description: "Redo (also Ctrl+Y)", edits: true, match: [ctrl("z", true), ctrl("y")] },
  { action: "copy", keys: ["Ctrl", "C"], description: "Copy the selected steps", edits: false, match: [ctrl("c")] },
  { action: "paste", keys: ["Ctrl", "V"], description: "Paste steps", edits: true, match: [ctrl("v")] },
  { action: "layout", keys: ["Ctrl", "Shift", "L"], description: "Tidy up the layout (auto-layout)", edits: true, match: [ctrl("l", true)] },
  {
    action: "delete", keys: ["Delete"], description: "Delete the selected steps and connections (or Backspace)", edits: true, canvas: true,
    match: [{ key: "Delete", mod: "none" }, { key: "Backspace", mod: "none" }],
  },
];

/** The keys the canvas deletes the selection with. */
export const DELETE_KEYS = SHORTCUTS.find((s) => s.action === "delete")!.match.map((m) => m.key);

type KeyLike = Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "shiftKey" | "altKey">;

function modOf(e: KeyLike): Mod | null {
  if (e.altKey) return null;
  const mod = e.ctrlKey || e.metaKey;
  if (mod) return e.shiftKey ? "mod+shift" : "mod";
  return e.shiftKey ? "shift" : "none";
}

/** The shortcut a key press means (the canvas' own excluded), or undefined. */
export function shortcutFor(e: KeyLike): Shortcut | undefined {
  const mod = modOf(e);
  if (!mod) return undefined;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  return SHORTCUTS.find((s) => !s.canvas && s.match.some((m) => m.key === key && m.mod === mod));
}

/** The keys as the help shows them on this computer: "Cmd" for "Ctrl" on a Mac. */
export function keyLabels(keys: string[], mac: boolean): string[] {
  return keys.map((k) => (k === "Ctrl" && mac ? "Cmd" : k));
}

export const isMac = () => /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
