import type { Role } from "@/schemas/roles";

/** Every permission a procedure, page or action can require. */
export const permissions = [
  "request.read",
  "request.create",
  "system.read",
  "queue.read",
  "queue.operate",
  /** Scrape /api/metrics (Prometheus): the whole install's figures, every repository. */
  "metrics.read",
  /** Approve or reject a change waiting for review (never one of a request one filed). */
  "change.approve",
  /** Roll back a merged change: its revert lands through the queue. */
  "change.rollback",
  "change.submit",
  "user.read",
  "user.manage",
  /** See server paths in error texts; everyone else sees them redacted. */
  "server.paths",
  /** Cancel an unfinished request: one's own, or anyone's. */
  "request.cancel.own",
  "request.cancel.any",
  /** Run a failed request again: one's own, or anyone's. */
  "request.rerun.own",
  "request.rerun.any",
  /** Edit a request that waits for clarification: one's own, or anyone's. */
  "request.edit.own",
  "request.edit.any",
  /** Answer the Engineer's questions on a request: one's own, or anyone's. */
  "request.answer.own",
  "request.answer.any",
  /** Re-scope (edit or answer) a request whose question came back after an answer. */
  "request.rescope",
  /** Approve a repository's plan file (its policy's `plan`): the plan gate opens on its text. */
  "plan.approve",
  /** Manual QA: see the QA queue, check candidates out, pass or fail them, reorder the queue. */
  "qa.operate",
  /**
   * The workspace meta queue: see its items, submit dependencies between requests, priority and
   * pause overrides, cancels, restarts and steering (server/meta).
   */
  "meta.operate",
] as const;
export type Permission = (typeof permissions)[number];

const requester: Permission[] = [
  "request.read",
  "request.create",
  "system.read",
  "request.cancel.own",
  "request.rerun.own",
  "request.edit.own",
  "request.answer.own",
];
const reviewer: Permission[] = [
  ...requester,
  "queue.read",
  "change.approve",
  "change.rollback",
  "request.edit.any",
  "request.answer.any",
  "request.rescope",
];
const operator: Permission[] = [
  ...reviewer,
  "queue.operate",
  "qa.operate",
  "meta.operate",
  "metrics.read",
  "change.submit",
  "request.cancel.any",
  "request.rerun.any",
];
const admin: Permission[] = [
  ...operator,
  "user.read",
  "user.manage",
  "server.paths",
  "plan.approve",
];

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

/**
 * What a user does to a request, or to a change filed for one, where the request's own requester
 * is not treated as anyone else: the permission needed when the request is the user's own, and
 * the permission needed when it is someone else's (null: never). The routers, the CLI and the
 * pages ask `may`; the role → permission table above decides.
 */
export const actions = {
  "request.cancel": { own: "request.cancel.own", others: "request.cancel.any" },
  "request.rerun": { own: "request.rerun.own", others: "request.rerun.any" },
  /** While the request waits for clarification. */
  "request.edit": { own: "request.edit.own", others: "request.edit.any" },
  /** While the request waits for clarification. */
  "request.answer": { own: "request.answer.own", others: "request.answer.any" },
  /** Edit or answer while the request needs attention: staff only, one's own included. */
  "request.rescope": { own: "request.rescope", others: "request.rescope" },
  /** Someone other than the requester approves a change. */
  "change.approve": { own: null, others: "change.approve" },
  "change.rollback": { own: "change.rollback", others: "change.rollback" },
} as const satisfies Record<string, { own: Permission | null; others: Permission | null }>;
export type Action = keyof typeof actions;

/**
 * Whether `user` may take `action` on a request filed by `ownerId` (null or absent: no request,
 * or nobody's, so never the user's own).
 */
export function may(
  user: { id: number; role: Role },
  action: Action,
  target: { ownerId?: number | null } = {},
): boolean {
  const rule: { own: Permission | null; others: Permission | null } = actions[action];
  const own = target.ownerId !== undefined && target.ownerId !== null && target.ownerId === user.id;
  const need = own ? rule.own : rule.others;
  return need !== null && can(user.role, need);
}
