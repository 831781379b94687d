// What the signed-in person may do in Settings, from the permissions GET /api/v1/me lists (the API's one
// table, platform_api/permissions.py): a button they may not use is disabled with the reason, and the API
// still answers 403 if asked anyway.
import type { Me, Role } from "./api";

const RANK: Record<Role, number> = { owner: 5, admin: 4, editor: 3, operator: 2, viewer: 1 };

export const atLeast = (role: Role | undefined, needed: Role): boolean => !!role && RANK[role] >= RANK[needed];

export type SettingsAct = "edit_workspace" | "manage_members" | "manage_api_keys" | "see_audit" | "privacy" | "rotate_keys";

/** The API's permission behind each act, and the lowest role that has it (for the reason shown). */
const NEEDS: Record<SettingsAct, { permission: string; role: Role; what: string }> = {
  edit_workspace: { permission: "manage_settings", role: "admin", what: "change the workspace's settings" },
  manage_members: { permission: "manage_members", role: "admin", what: "manage members" },
  manage_api_keys: { permission: "manage_members", role: "admin", what: "manage API keys" },
  see_audit: { permission: "see_audit", role: "admin", what: "see the audit log" },
  privacy: { permission: "privacy", role: "owner", what: "export, erase or delete the workspace's data" },
  rotate_keys: { permission: "manage_keys", role: "owner", what: "rotate the workspace's encryption key" },
};

/** Why the signed-in person may not do `act` ("Only an owner can …"), or null when they may. */
export function refusal(me: Pick<Me, "permissions"> | undefined, act: SettingsAct): string | null {
  const { permission, role, what } = NEEDS[act];
  if (me?.permissions.includes(permission)) return null;
  return `Only ${role === "owner" ? "an owner" : `an ${role} or owner`} can ${what}.`;
}

/** The roles `role` may hand out: never above its own. */
export const grantable = (role: Role | undefined, roles: Role[]): Role[] => roles.filter((r) => atLeast(role, r));
