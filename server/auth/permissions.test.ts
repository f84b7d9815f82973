import { describe, expect, it } from "vitest";
import { type Role, roles } from "@/schemas/roles";
import { type Action, actions, can, may, permissions, rolePermissions } from "./permissions";

const ME = 7;
const SOMEONE_ELSE = 8;
const as = (role: Role) => ({ id: ME, role });

// Who may take each action, on their own request and on someone else's: the rules the services,
// the CLI and the request page each spelled out with role names before they asked `may`.
const expected: Record<Action, { own: Role[]; others: Role[] }> = {
  // The requester cancels or reruns their own request; operators and admins anyone's.
  "request.cancel": {
    own: ["requester", "reviewer", "operator", "admin"],
    others: ["operator", "admin"],
  },
  "request.rerun": {
    own: ["requester", "reviewer", "operator", "admin"],
    others: ["operator", "admin"],
  },
  // While it waits for clarification: its requester, or anyone but a requester.
  "request.edit": {
    own: ["requester", "reviewer", "operator", "admin"],
    others: ["reviewer", "operator", "admin"],
  },
  "request.answer": {
    own: ["requester", "reviewer", "operator", "admin"],
    others: ["reviewer", "operator", "admin"],
  },
  // When the question came back: anyone but a requester, their own request included.
  "request.rescope": {
    own: ["reviewer", "operator", "admin"],
    others: ["reviewer", "operator", "admin"],
  },
  // Never one's own change; a reviewer, operator or admin approves anyone else's.
  "change.approve": { own: [], others: ["reviewer", "operator", "admin"] },
  "change.rollback": {
    own: ["reviewer", "operator", "admin"],
    others: ["reviewer", "operator", "admin"],
  },
};

describe("may", () => {
  const cases = (Object.keys(actions) as Action[]).flatMap((action) =>
    roles.flatMap((role) => [
      [action, role, "own", expected[action].own.includes(role)] as const,
      [action, role, "others'", expected[action].others.includes(role)] as const,
    ]),
  );

  it("covers every action", () => {
    expect(Object.keys(expected).sort()).toEqual(Object.keys(actions).sort());
  });

  it.each(cases)("%s by a %s on their %s request: %s", (action, role, whose, allowed) => {
    const ownerId = whose === "own" ? ME : SOMEONE_ELSE;
    expect(may(as(role), action, { ownerId })).toBe(allowed);
  });

  it.each(roles)("treats a request of nobody (or none) as someone else's, for a %s", (role) => {
    for (const action of Object.keys(actions) as Action[]) {
      const others = expected[action].others.includes(role);
      expect(may(as(role), action), action).toBe(others);
      expect(may(as(role), action, { ownerId: null }), action).toBe(others);
    }
  });
});

describe("the role table", () => {
  it("grants every permission to some role, and only known ones", () => {
    const granted = new Set(Object.values(rolePermissions).flat());
    expect([...granted].sort()).toEqual([...permissions].sort());
  });

  it("gives each role everything the role below it has", () => {
    for (let i = 1; i < roles.length; i++) {
      const below = roles[i - 1] as Role;
      const role = roles[i] as Role;
      for (const p of rolePermissions[below]) expect(can(role, p), `${role} ${p}`).toBe(true);
    }
  });

  it("keeps steering, submitting and operating the queue for operators and admins", () => {
    expect(roles.filter((r) => can(r, "queue.operate"))).toEqual(["operator", "admin"]);
  });

  it("lets operators and admins, and nobody else, do manual QA", () => {
    expect(roles.filter((r) => can(r, "qa.operate"))).toEqual(["operator", "admin"]);
  });

  it("lets operators and admins, and nobody else, use the workspace meta queue", () => {
    expect(roles.filter((r) => can(r, "meta.operate"))).toEqual(["operator", "admin"]);
  });

  it("lets operators and admins, and nobody else, scrape the metrics", () => {
    expect(roles.filter((r) => can(r, "metrics.read"))).toEqual(["operator", "admin"]);
  });
});
