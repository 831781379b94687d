import { describe, expect, it } from "vitest";
import { problemFrom } from "./problems";

describe("problemFrom", () => {
  it("reads a problem+json body: its detail, hint and field errors", () => {
    const error = problemFrom(422, "Unprocessable Entity", {
      type: "https://docs.flowyard.dev/problems/invalid-input", title: "Invalid input", detail: "input.email: not an email",
      hint: "Check the fields.", errors: [{ path: "input.email", message: "not an email" }],
    });
    expect(error).toMatchObject({ status: 422, message: "input.email: not an email", hint: "Check the fields." });
    expect(error.type).toMatch(/\/invalid-input$/);
    expect(error.errors).toEqual([{ path: "input.email", message: "not an email" }]);
  });

  it("falls back to the status when the body is not a problem", () => {
    const error = problemFrom(502, "Bad Gateway", "<html>proxy error</html>");
    expect(error.message).toBe("502 Bad Gateway");
    expect(error.errors).toEqual([]);
  });

  it("tells a version conflict and a failure worth keeping the work for", () => {
    const conflict = problemFrom(409, "Conflict", { type: "https://docs.flowyard.dev/problems/version-conflict", detail: "x" });
    expect(conflict.isConflict).toBe(true);
    expect(conflict.isTransient).toBe(false);
    expect(problemFrom(503, "Service Unavailable", null).isTransient).toBe(true);
    expect(problemFrom(409, "Conflict", { type: "https://docs.flowyard.dev/problems/name-taken" }).isConflict).toBe(false);
  });
});
