import type { Role } from "@/schemas/roles";

/** Every permission a procedure or page can require. */
export const permissions = [
  "request.read",
  "request.create",
  "system.read",
  "queue.read",
  "queue.operate",
  /** Approve or reject a change waiting for review (never one of a request one filed). */
  "change.approve",
  /** Roll back a merged change: its revert lands through the queue. */
  "change.rollback",
  "change.submit",
  "user.read",
  "user.manage",
  /** See server paths in error texts; everyone else sees them redacted. */
  "server.paths",
] as const;
export type Permission = (typeof permissions)[number];

const requester: Permission[] = ["request.read", "request.create", "system.read"];
const reviewer: Permission[] = [...requester, "queue.read", "change.approve", "change.rollback"];
const operator: Permission[] = [...reviewer, "queue.operate", "change.submit"];
const admin: Permission[] = [...operator, "user.read", "user.manage", "server.paths"];

/** The role → permission table. Change access here, nowhere else. */
export const rolePermissions: Record<Role, readonly Permission[]> = {
  requester,
  reviewer,
  operator,
  admin,
};

export function can(role: Role, permission: Permission): boolean {
  return rolePermissions[role].includes(permission);
}
