import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { AgentName } from "@/schemas/agents";
import type { Limits } from "@/schemas/policy";
import type { Spec, TaskAssignment } from "@/schemas/task-assignment";
import type { TaskState } from "@/schemas/task-state";
import { requests } from "./requests";

/**
 * A unit of work for one agent. The Orchestrator fills it from a request; a change submitted
 * without a task gets an ad-hoc one so every change stays traceable. Tasks in `claimed` or
 * `submitted` hold their lock keys; `done`, `failed` and an expired lease release them.
 */
export const tasks = sqliteTable(
  "tasks",
  {
    id: text().primaryKey(),
    requestId: integer("request_id").references(() => requests.id),
    repo: text().notNull(),
    title: text().notNull(),
    source: text().$type<"planner" | "adhoc">().notNull(),
    createdAt: integer("created_at").notNull(),
    state: text().$type<TaskState>().notNull().default("done"),
    area: text(),
    neededFiles: text("needed_files", { mode: "json" }).$type<string[]>(),
    lockScope: text("lock_scope").$type<"area" | "files">(),
    lockKeys: text("lock_keys", { mode: "json" }).$type<string[]>(),
    dependsOn: text("depends_on", { mode: "json" }).$type<string[]>(),
    acceptance: text({ mode: "json" }).$type<string[]>(),
    prompt: text({ mode: "json" }).$type<TaskAssignment["prompt"]>(),
    limits: text({ mode: "json" }).$type<Limits>(),
    contextTokens: integer("context_tokens"),
    blockedReason: text("blocked_reason"),
    /** Why its agent concluded the task needs no change: it is done without a change. */
    noChangeReason: text("no_change_reason"),
    /**
     * The agent a reviewer handed the task to on rejecting its change (the built-in developer
     * cannot act on a reason); it does the task instead of the policy's choice for its area.
     */
    agent: text().$type<AgentName>(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: integer("lease_expires_at"),
    heartbeatAt: integer("heartbeat_at"),
    attempts: integer().notNull().default(0),
    changeRequestId: integer("change_request_id"),
    updatedAt: integer("updated_at"),
  },
  (t) => [index("tasks_request_idx").on(t.requestId), index("tasks_state_idx").on(t.state)],
);

/** What the Engineer made of a request, and the Orchestrator's counts. */
export const requestSpecs = sqliteTable("request_specs", {
  requestId: integer("request_id")
    .primaryKey()
    .references(() => requests.id),
  spec: text({ mode: "json" }).$type<Spec | null>(),
  questions: text({ mode: "json" }).$type<string[]>().notNull(),
  answers: text({ mode: "json" })
    .$type<
      {
        at: number;
        by: string;
        /** The questions this answers, as asked (absent on answers recorded before it was kept). */
        questions?: string[];
        answer: { files: string[]; areas: string[]; kind?: string; note?: string };
      }[]
    >()
    .notNull(),
  engineer: text().notNull(),
  /**
   * Why the built-in Engineer scoped it although the policy names an agent (its output did not
   * parse or validate, or it failed); null when the named Engineer did.
   */
  engineerFallback: text("engineer_fallback"),
  tasksTotal: integer("tasks_total").notNull().default(0),
  tasksIndependent: integer("tasks_independent").notNull().default(0),
  updatedAt: integer("updated_at").notNull(),
});

/** Inbox files already taken in, by content hash, so none is ingested twice. */
export const inboxFiles = sqliteTable("inbox_files", {
  hash: text().primaryKey(),
  name: text().notNull(),
  requestIds: text("request_ids", { mode: "json" }).$type<number[]>().notNull(),
  at: integer().notNull(),
});
