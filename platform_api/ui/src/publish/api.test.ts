import { describe, expect, it } from "vitest";
import { badgeText, decisionRefusal, isPending, pendingText, publishesDirectly, statusFilter, type PublishRequest } from "./api";

const request = (over: Partial<PublishRequest> = {}): PublishRequest => ({
  id: "r1", workflow_id: "w1", workflow_name: "Leads", version: 4, status: "pending", requested_by: "ed@example.com",
  created_at: "2026-12-06T20:00:00Z", live_version: 3, ...over,
});
const me = (role: "owner" | "admin" | "editor" | "operator" | "viewer", email = "boss@example.com") => ({ role, user: { email } });

describe("isPending", () => {
  it("knows the 202 body of publish and restore", () => {
    expect(isPending({ status: "pending_approval", request_id: "r1", version: 4 })).toBe(true);
    expect(isPending({ id: "w1", status: "published", version: 4 })).toBe(false);
    expect(isPending(null)).toBe(false);
  });
});

describe("pendingText", () => {
  it("names the version that waits", () => {
    expect(pendingText(7)).toBe("Sent for approval: an owner or admin will review version 7");
  });
});

describe("publishesDirectly", () => {
  it("publishes directly while no approval is required", () => {
    expect(publishesDirectly(false, "editor", ["owner", "admin"])).toBe(true);
    expect(publishesDirectly(undefined, "viewer", [])).toBe(true);
  });
  it("lets only the workspace's direct roles publish once it is required", () => {
    expect(publishesDirectly(true, "editor", ["owner", "admin"])).toBe(false);
    expect(publishesDirectly(true, "admin", ["owner", "admin"])).toBe(true);
    expect(publishesDirectly(true, "admin", ["owner"])).toBe(false);
    expect(publishesDirectly(true, "owner", [])).toBe(false);
  });
  it("assumes the defaults (owners and admins) until the workspace is read, and the plain label until the role is", () => {
    expect(publishesDirectly(true, "owner", undefined)).toBe(true);
    expect(publishesDirectly(true, "editor", undefined)).toBe(false);
    expect(publishesDirectly(true, undefined, undefined)).toBe(true);
  });
});

describe("decisionRefusal", () => {
  it("lets an owner or admin decide another person's pending request", () => {
    expect(decisionRefusal(me("owner"), request())).toBeNull();
    expect(decisionRefusal(me("admin"), request())).toBeNull();
  });
  it("refuses one's own request, whatever the case of the email", () => {
    expect(decisionRefusal(me("owner", "Ed@Example.com"), request())).toMatch(/You asked for this one/);
  });
  it("refuses roles that cannot decide", () => {
    for (const role of ["editor", "operator", "viewer"] as const) {
      expect(decisionRefusal(me(role), request())).toBe("Only an owner or admin can approve or reject changes.");
    }
  });
  it("says which version is live now for a stale request", () => {
    expect(decisionRefusal(me("owner"), request({ status: "stale", live_version: 5 })))
      .toBe("Out of date: version 5 is live now. Version 4 can no longer be approved; ask for approval again from the editor.");
  });
  it("refuses a request already decided, and waits for the role", () => {
    expect(decisionRefusal(me("owner"), request({ status: "approved" }))).toBe("Already approved.");
    expect(decisionRefusal(undefined, request())).toMatch(/Checking/);
  });
});

describe("badgeText", () => {
  it("counts the pending requests, with a plus when there are more pages", () => {
    expect(badgeText(undefined)).toBe("");
    expect(badgeText({ requests: [], next: null })).toBe("");
    expect(badgeText({ requests: [request(), request({ id: "r2" })], next: null })).toBe("2");
    expect(badgeText({ requests: [request()], next: "abc" })).toBe("1+");
  });
});

describe("statusFilter", () => {
  it("reads the filter from the address, pending by default", () => {
    expect(statusFilter(null)).toBe("pending");
    expect(statusFilter("rejected")).toBe("rejected");
    expect(statusFilter("all")).toBe("all");
    expect(statusFilter("bogus")).toBe("pending");
  });
});
