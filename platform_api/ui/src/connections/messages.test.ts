import { describe, expect, it } from "vitest";
import { problemFrom } from "../api/problems";
import { workflowsUsing } from "./messages";

const user = { path: "graph.nodes[1].config.connection", message: "step 'Email' of 'Welcome' uses it", hint: "h",
  workflow_id: "w1", workflow_name: "Welcome" };

describe("workflowsUsing", () => {
  it("names the workflows of a refused delete from the problem's errors, with their ids", () => {
    const inUse = problemFrom(409, "Conflict", {
      type: "https://docs.flowyard.dev/problems/connection-in-use", detail: "Workflows use this connection: Welcome.", errors: [user],
    });
    expect(workflowsUsing(inUse)).toEqual([user]);
  });

  it("names none for any other error", () => {
    const unavailable = problemFrom(503, "Service Unavailable", { type: "https://docs.flowyard.dev/problems/engine-unavailable" });
    expect(workflowsUsing(unavailable)).toEqual([]);
    expect(workflowsUsing(new Error("offline"))).toEqual([]);
  });
});
