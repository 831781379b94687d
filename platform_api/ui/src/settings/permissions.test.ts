import { describe, expect, it } from "vitest";
import { ROLES } from "./api";
import { atLeast, grantable, refusal } from "./permissions";

const OWNER = ["create_edit", "publish", "run", "monitor", "manage_connections", "manage_members", "see_audit",
  "manage_settings", "manage_keys", "privacy"];
const ADMIN = OWNER.filter((p) => p !== "manage_keys" && p !== "privacy");
const EDITOR = ["create_edit", "publish", "run", "monitor"];

describe("refusal", () => {
  it("lets an owner do everything", () => {
    for (const act of ["edit_workspace", "manage_members", "manage_api_keys", "see_audit", "privacy"] as const) {
      expect(refusal({ permissions: OWNER }, act)).toBeNull();
    }
  });

  it("names who may, for someone without the permission", () => {
    expect(refusal({ permissions: EDITOR }, "manage_members")).toBe("Only an admin or owner can manage members.");
    expect(refusal({ permissions: ADMIN }, "see_audit")).toBeNull();
    expect(refusal({ permissions: ADMIN }, "privacy")).toBe("Only an owner can export, erase or delete the workspace's data.");
  });

  it("refuses while it is not known who is signed in", () => {
    expect(refusal(undefined, "see_audit")).toBe("Only an admin or owner can see the audit log.");
  });
});

describe("roles", () => {
  it("orders owner above viewer", () => {
    expect(atLeast("admin", "editor")).toBe(true);
    expect(atLeast("viewer", "operator")).toBe(false);
  });

  it("never grants above one's own role", () => {
    expect(grantable("admin", ROLES)).toEqual(["admin", "editor", "operator", "viewer"]);
    expect(grantable("owner", ROLES)).toEqual(ROLES);
  });
});
