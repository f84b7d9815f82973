import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roles } from "@/schemas/roles";
import { can, type Permission, permissions } from "@/server/auth/permissions";
import type { User } from "@/server/users/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { type Context, createCallerFactory } from "./init";
import { appRouter } from "./root";

let world: TestWorld;
const usersByRole = new Map<string, User>();

beforeAll(async () => {
  world = await makeWorld();
  for (const role of roles) usersByRole.set(role, await world.userWith(role));
});
afterAll(() => world.cleanup());

const createCaller = createCallerFactory(appRouter);

function ctx(user: User | null, extra: Partial<Context> = {}): Context {
  return { db: world.db, env: world.env, user, crossOrigin: false, via: "session", ...extra };
}

type AnyProcedure = {
  _def: { type: "query" | "mutation" | "subscription"; meta?: { permission?: Permission } };
};
// Every procedure in the router, found by walking it: a new one is covered without editing here.
const procedures = Object.entries(
  appRouter._def.procedures as unknown as Record<string, AnyProcedure>,
);

async function call(caller: unknown, path: string): Promise<unknown> {
  const fn = path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], caller);
  const result = await (fn as (input: unknown) => Promise<unknown>)(undefined);
  // A subscription's checks run when it is first pulled.
  if (result && typeof result === "object" && Symbol.asyncIterator in result) {
    const it = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    await it.return?.();
  }
  return result;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (err) {
    return err instanceof TRPCError ? err.code : `THREW ${(err as Error).name}`;
  }
}

describe("every procedure checks who is asking", () => {
  it("finds the procedures", () => {
    expect(procedures.length).toBeGreaterThan(3);
  });

  it.each(procedures)("%s declares a known permission", (_path, proc) => {
    expect(permissions).toContain(proc._def.meta?.permission);
  });

  it.each(procedures)("%s refuses a caller without a session with UNAUTHORIZED", async (path) => {
    expect(await codeOf(call(createCaller(ctx(null)), path))).toBe("UNAUTHORIZED");
  });

  it.each(procedures)(
    "%s answers FORBIDDEN to each role without its permission",
    async (path, proc) => {
      const permission = proc._def.meta?.permission as Permission;
      for (const role of roles) {
        const code = await codeOf(call(createCaller(ctx(usersByRole.get(role) ?? null)), path));
        if (can(role, permission)) expect([role, code]).not.toEqual([role, "FORBIDDEN"]);
        else expect([role, code]).toEqual([role, "FORBIDDEN"]);
      }
    },
  );

  it("refuses a cross-origin mutation even from an admin", async () => {
    const caller = createCaller(ctx(world.admin, { crossOrigin: true }));
    const input = { title: "t", description: "", repo: "demo" };
    expect(await codeOf(caller.request.create(input))).toBe("FORBIDDEN");
  });
});

describe("request procedures", () => {
  it("a requester files a request and reads it back", async () => {
    const requester = usersByRole.get("requester") ?? world.admin;
    const caller = createCaller(ctx(requester));
    const [created] = await caller.request.create({
      title: "Fix cart total",
      description: "",
      repo: "demo",
    });
    expect(created).toMatchObject({
      status: "received",
      requester: requester.email,
      source: "web",
    });
    const { rows } = await caller.request.list({ status: "received" });
    expect(rows[0]?.id).toBe(created?.id);
  });

  it("a bad request is BAD_REQUEST with every field issue", async () => {
    const caller = createCaller(ctx(world.admin));
    const err = await caller.request
      .create({ title: "", description: "", repo: "nope", files: ["../x"] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).code).toBe("BAD_REQUEST");
    expect((err as TRPCError).message).toContain("files[0]");
  });

  it("the live subscription yields a request filed after it started", async () => {
    const ac = new AbortController();
    const caller = createCaller(ctx(world.admin), { signal: ac.signal });
    const { afterId: cursor } = await caller.request.list();
    const stream = await caller.request.live({ afterId: cursor });
    await caller.request.create({ title: "Live one", description: "", repo: "demo" });
    const it = stream[Symbol.asyncIterator]();
    const next = await it.next();
    ac.abort();
    // On the server a tracked event is [id, data]; the client sees { id, data }.
    const [eventId, data] = next.value as unknown as [
      string,
      { type: string; payload: { title: string } },
    ];
    expect(Number(eventId)).toBeGreaterThan(cursor);
    expect(data).toMatchObject({ type: "request.created", payload: { title: "Live one" } });
  });
});
