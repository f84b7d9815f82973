import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { type FieldIssue, fieldIssues } from "@/schemas/issues";
import { can, type Permission } from "@/server/auth/permissions";
import type { Db } from "@/server/db/client";
import type { HyperionEnv } from "@/server/env.mjs";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/server/errors";
import { redactorFor } from "@/server/redact";
import { withSpan } from "@/server/trace";
import type { User } from "@/server/users/service";

// ── context ───────────────────────────────────────────────────────────────────

export type Context = {
  db: Db;
  env: HyperionEnv;
  user: User | null;
  /** True when the browser says the call came from another site; mutations refuse it. */
  crossOrigin: boolean;
  /** How the caller proved who they are: a browser session or an API token. */
  via: "session" | "token";
};

export type Meta = { permission: Permission };

// ── init ──────────────────────────────────────────────────────────────────────

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    sse: {
      ping: { enabled: true, intervalMs: 10_000 },
      client: { reconnectAfterInactivityMs: 15_000 },
    },
    errorFormatter({ shape, error, ctx }) {
      let issues: FieldIssue[] | null = null;
      if (error.cause instanceof ValidationError) issues = error.cause.issues;
      else if (error.cause instanceof ZodError) issues = fieldIssues(error.cause);
      else if (error.cause instanceof ConflictError && error.cause.issues.length > 0)
        issues = error.cause.issues;
      const show = redactorFor(ctx);
      return {
        ...shape,
        message: show(shape.message),
        data: {
          ...shape.data,
          stack: undefined,
          issues: issues?.map((i) => ({ ...i, message: show(i.message) })) ?? null,
        },
      };
    },
  });

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

// ── procedures ────────────────────────────────────────────────────────────────

/** Turns the services' typed errors into the matching tRPC codes. */
const mapServiceErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.code === "INTERNAL_SERVER_ERROR") {
    const cause = result.error.cause;
    const code =
      cause instanceof ValidationError || cause instanceof ZodError
        ? "BAD_REQUEST"
        : cause instanceof NotFoundError
          ? "NOT_FOUND"
          : cause instanceof ConflictError
            ? "CONFLICT"
            : cause instanceof ForbiddenError
              ? "FORBIDDEN"
              : undefined;
    if (code) throw new TRPCError({ code, message: cause?.message, cause });
  }
  return result;
});

/**
 * A mutation runs in a span of its own (server/trace.ts): a request it files starts its trace
 * there, so the web's part and the worker's share one trace id.
 */
const traceMutations = t.middleware(({ type, path, next }) =>
  type === "mutation" ? withSpan(`trpc ${path}`, { "rpc.method": path }, () => next()) : next(),
);

/**
 * Every procedure is built here and names the permission it needs. No session → UNAUTHORIZED;
 * a session whose role lacks the permission → FORBIDDEN; a cross-site mutation → FORBIDDEN.
 * Checks run before input parsing, so an anonymous caller learns nothing about the input.
 */
export function procedure(permission: Permission) {
  return t.procedure
    .meta({ permission })
    .use(({ ctx, type, next }) => {
      if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first." });
      if (!can(ctx.user.role, permission)) {
        throw new TRPCError({
          code: "FORBIDDEN",
          message: `Your role (${ctx.user.role}) does not allow ${permission}.`,
        });
      }
      if (type === "mutation" && ctx.crossOrigin) {
        throw new TRPCError({ code: "FORBIDDEN", message: "Cross-origin request refused." });
      }
      return next({ ctx: { ...ctx, user: ctx.user } });
    })
    .use(traceMutations)
    .use(mapServiceErrors);
}
