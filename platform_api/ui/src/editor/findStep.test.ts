import { describe, expect, it } from "vitest";
import { findSteps, type Findable } from "./findStep";

const steps: Findable[] = [
  { id: "start", label: "New lead", type: "trigger.manual", typeLabel: "Manual trigger" },
  { id: "mail", label: "Send welcome", type: "sendgrid.send_email", typeLabel: "Send an email" },
  { id: "welcome_log", label: "Log it", type: "util.log", typeLabel: "Log" },
];

describe("findSteps", () => {
  it("matches label, id and type, every word", () => {
    expect(findSteps(steps, "sendgrid").map((s) => s.id)).toEqual(["mail"]);
    expect(findSteps(steps, "log").map((s) => s.id)).toEqual(["welcome_log"]);
    expect(findSteps(steps, "manual lead").map((s) => s.id)).toEqual(["start"]);
    expect(findSteps(steps, "nothing here")).toEqual([]);
  });

  it("puts a label or id that starts with the query first, and keeps all steps for an empty query", () => {
    expect(findSteps(steps, "welcome").map((s) => s.id)).toEqual(["welcome_log", "mail"]);
    expect(findSteps(steps, "  ").map((s) => s.id)).toEqual(["start", "mail", "welcome_log"]);
  });
});
