import { afterEach, describe, expect, it } from "vitest";
import { focusWorkflow, guideSteps, setDismissed, type Facts } from "./guide";

const NONE: Facts = { connections: 0, workflows: [], runs: 0 };
const draft = { id: "w1", name: "Welcome", published_version: null, updated_at: "2026-03-10T10:00:00Z" };
const live = { id: "w2", name: "Orders", published_version: 1, updated_at: "2026-03-10T11:00:00Z" };
const done = (facts: Facts) => guideSteps(facts).filter((s) => s.done).map((s) => s.id);

describe("guideSteps", () => {
  it("ticks nothing for a new workspace, in the order a person does them", () => {
    expect(guideSteps(NONE).map((s) => s.id)).toEqual(["connect", "start", "test", "publish"]);
    expect(done(NONE)).toEqual([]);
  });

  it("ticks each step from the workspace's data", () => {
    expect(done({ ...NONE, connections: 1 })).toEqual(["connect"]);
    expect(done({ ...NONE, workflows: [draft] })).toEqual(["start"]);
    expect(done({ ...NONE, workflows: [draft], runs: 3 })).toEqual(["start", "test"]);
    expect(done({ connections: 2, workflows: [draft, live], runs: 1 })).toEqual(["connect", "start", "test", "publish"]);
  });
});

describe("focusWorkflow", () => {
  it("opens the draft to test and publish, else the workflow edited last", () => {
    expect(focusWorkflow({ ...NONE, workflows: [live, draft] })?.id).toBe("w1");
    expect(focusWorkflow({ ...NONE, workflows: [live] })?.id).toBe("w2");
    expect(focusWorkflow(NONE)).toBeUndefined();
  });
});

describe("setDismissed", () => {
  const store = new Map<string, string>();
  globalThis.localStorage ??= {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  } as Storage;
  afterEach(() => localStorage.removeItem("flowyard:guide-dismissed:u1:t1"));

  it("is kept per user and workspace", () => {
    setDismissed("u1", "t1", true);
    expect(localStorage.getItem("flowyard:guide-dismissed:u1:t1")).toBe("1");
    expect(localStorage.getItem("flowyard:guide-dismissed:u1:t2")).toBeNull();
    setDismissed("u1", "t1", false);
    expect(localStorage.getItem("flowyard:guide-dismissed:u1:t1")).toBeNull();
  });
});
