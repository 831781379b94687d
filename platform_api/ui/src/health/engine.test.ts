import { describe, expect, it } from "vitest";
import { outageOf } from "./engine";

describe("outageOf", () => {
  it("says nothing when every check passes", () => {
    expect(outageOf([])).toBeNull();
  });

  it("tells that runs still start later when the engine is down", () => {
    expect(outageOf(["prefect"])?.title).toBe("The workflow engine is unavailable");
    expect(outageOf(["dispatcher"])?.detail).toContain("New runs are accepted");
  });

  it("puts the database first: then nothing can be saved", () => {
    expect(outageOf(["prefect", "database"])?.title).toBe("Flowyard's database is unavailable");
  });

  it("names an unreachable API as such", () => {
    expect(outageOf(["network"])?.title).toBe("Flowyard cannot be reached");
  });
});
