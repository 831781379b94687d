// Approval before production: publish requests (GET /publish-requests, approve, reject), what a 202 from publish or
// restore says, and who may publish directly or decide on a request, as pure rules the screens and tests share.
import { http, unwrap } from "../api/client";
import type { components } from "../api/schema";

type Schemas = components["schemas"];

export type PublishPending = Schemas["PublishPending"];
export type PublishRequest = Schemas["PublishRequestRead"];
export type PublishRequestDetail = Schemas["PublishRequestDetail"];
export type RequestStatus = PublishRequest["status"];
export type RequestPage = { requests: PublishRequest[]; next: string | null };
type Role = Schemas["MeRead"]["role"];

export const REQUEST_STATUSES: RequestStatus[] = ["pending", "approved", "rejected", "stale"];
export const STATUS_LABELS: Record<RequestStatus, string> = {
  pending: "Waiting", approved: "Approved", rejected: "Rejected", stale: "Out of date",
};

/** The 202 body of POST /publish or /restore: publishing waits for an owner's or admin's approval. */
export function isPending(body: unknown): body is PublishPending {
  return typeof body === "object" && body !== null && (body as { status?: unknown }).status === "pending_approval"
    && typeof (body as { request_id?: unknown }).request_id === "string";
}

/** What the editor says when a publish was sent for approval. */
export const pendingText = (version: number) => `Sent for approval: an owner or admin will review version ${version}`;

/** Who publishes directly while approval is required, unless the workspace says otherwise; editors never do. */
export const DEFAULT_DIRECT_ROLES: readonly Role[] = ["owner", "admin"];

/** Whether `role` makes a workflow live at once: always unless approval is required and the role is not let. */
export function publishesDirectly(approvalRequired: boolean | undefined, role: Role | undefined,
  directRoles: readonly Role[] | undefined): boolean {
  if (!approvalRequired || !role) return true; // not known yet: the plain label; the API decides anyway
  return (directRoles ?? DEFAULT_DIRECT_ROLES).includes(role);
}

/** Why the signed-in person may not approve or reject `request`, or null when they may. */
export function decisionRefusal(
  me: { role: Role; user: { email: string } } | undefined,
  request: Pick<PublishRequest, "status" | "requested_by" | "live_version" | "version">,
): string | null {
  if (request.status === "stale") {
    const live = request.live_version ? `version ${request.live_version} is live now` : "another version was published";
    return `Out of date: ${live}. Version ${request.version} can no longer be approved; ask for approval again from the editor.`;
  }
  if (request.status !== "pending") return `Already ${request.status}.`;
  if (!me) return "Checking your role…";
  if (me.role !== "owner" && me.role !== "admin") return "Only an owner or admin can approve or reject changes.";
  if (request.requested_by && request.requested_by.toLowerCase() === me.user.email.toLowerCase()) {
    return "You asked for this one: another owner or admin must review it.";
  }
  return null;
}

/** The badge of the navigation: how many wait, "50+" when there are more pages. */
export function badgeText(page: RequestPage | undefined): string {
  if (!page || page.requests.length === 0) return "";
  return page.next ? `${page.requests.length}+` : String(page.requests.length);
}

/** The list's filter in the address: a status, or "all". Pending when nothing (or something unknown) is given. */
export function statusFilter(value: string | null): RequestStatus | "all" {
  if (value === "all") return "all";
  return REQUEST_STATUSES.find((s) => s === value) ?? "pending";
}

const requestPath = (request_id: string) => ({ params: { path: { request_id } } });

export const publishApi = {
  /** A page of requests, newest first; the next page's cursor comes in the X-Next-Cursor header. */
  list: async (status: RequestStatus | "all", cursor: string | null, limit = 50): Promise<RequestPage> => {
    const query = { ...(status === "all" ? {} : { status }), limit, ...(cursor ? { cursor } : {}) };
    const answer = http.GET("/api/v1/publish-requests", { params: { query } });
    const requests = await unwrap(answer);
    return { requests, next: (await answer).response.headers.get("X-Next-Cursor") };
  },
  read: (id: string) => unwrap(http.GET("/api/v1/publish-requests/{request_id}", requestPath(id))),
  approve: (id: string, comment: string | null) =>
    unwrap(http.POST("/api/v1/publish-requests/{request_id}/approve", { ...requestPath(id), body: { comment } })),
  reject: (id: string, comment: string | null) =>
    unwrap(http.POST("/api/v1/publish-requests/{request_id}/reject", { ...requestPath(id), body: { comment } })),
};
