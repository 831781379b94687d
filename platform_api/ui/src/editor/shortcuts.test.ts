import { describe, expect, it } from "vitest";
import { DELETE_KEYS, keyLabels, shortcutFor, SHORTCUTS } from "./shortcuts";

const press = (key: string, mods: { ctrl?: boolean; meta?: boolean; shift?: boolean; alt?: boolean } = {}) =>
  shortcutFor({ key, ctrlKey: !!mods.ctrl, metaKey: !!mods.meta, shiftKey: !!mods.shift, altKey: !!mods.alt })?.action;

describe("shortcuts", () => {
  it("maps key presses to the listed actions, Ctrl or Cmd alike", () => {
    expect(press("k", { ctrl: true })).toBe("find");
    expect(press("K", { meta: true })).toBe("find");
    expect(press("?", { shift: true })).toBe("help");
    expect(press("z", { ctrl: true })).toBe("undo");
    expect(press("Z", { ctrl: true, shift: true })).toBe("redo");
    expect(press("y", { meta: true })).toBe("redo");
    expect(press("s", { ctrl: true })).toBe("save");
    expect(press("L", { ctrl: true, shift: true })).toBe("layout");
    expect(press("k")).toBeUndefined();
    expect(press("k", { ctrl: true, alt: true })).toBeUndefined();
    expect(press("Delete")).toBeUndefined(); // the canvas' own
  });

  it("lists every action once, and the canvas deletes with the listed keys", () => {
    const actions = SHORTCUTS.map((s) => s.action);
    expect(new Set(actions).size).toBe(actions.length);
    expect(DELETE_KEYS).toEqual(["Delete", "Backspace"]);
    expect(keyLabels(["Ctrl", "K"], true)).toEqual(["Cmd", "K"]);
  });
});
