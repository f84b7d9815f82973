import { pgTables } from "./pg";
import * as sqlite from "./tables";

// The tables every service imports. The schema is written once, for SQLite (./tables); the
// PostgreSQL tables are derived from it (./pg). A process runs on one engine, chosen when it
// opens its database (server/db/client.ts calls selectDialect): these bindings then name that
// engine's tables, and every importer sees them (ES module exports are live). Their types are
// the SQLite tables': the derivation keeps every column's TypeScript type.

export * from "./tables";

export type Dialect = "sqlite" | "postgres";

/**
 * The engine is the process's, not this module's: a bundler may load this module more than
 * once (Next.js gives its route handlers and its pages copies of their own), and a copy that
 * never saw selectDialect would name SQLite's tables on a PostgreSQL database. So the choice and
 * every copy's way to apply it live on globalThis: a copy loaded after the choice applies it at
 * once, and a choice made later reaches every copy loaded before.
 */
type Shared = { dialect: Dialect; copies: Set<(d: Dialect) => void> };
const SHARED = Symbol.for("hyperion.db.dialect");
const holder = globalThis as Record<symbol, Shared | undefined>;
const shared: Shared = holder[SHARED] ?? { dialect: "sqlite", copies: new Set() };
holder[SHARED] = shared;

let dialect: Dialect = "sqlite";

/** The engine this process's tables belong to (raw SQL that differs asks: server/db/sql.ts). */
export function currentDialect(): Dialect {
  return shared.dialect;
}

export let alerts = sqlite.alerts;
export let alertDeliveries = sqlite.alertDeliveries;
export let apiTokens = sqlite.apiTokens;
export let approvals = sqlite.approvals;
export let diffViews = sqlite.diffViews;
export let qaDecisions = sqlite.qaDecisions;
export let changeRequests = sqlite.changeRequests;
export let checkRuns = sqlite.checkRuns;
export let clusterFacts = sqlite.clusterFacts;
export let events = sqlite.events;
export let githubDeliveries = sqlite.githubDeliveries;
export let githubIssues = sqlite.githubIssues;
export let loginAttempts = sqlite.loginAttempts;
export let logShipments = sqlite.logShipments;
export let metaItems = sqlite.metaItems;
export let notificationMarks = sqlite.notificationMarks;
export let planApprovals = sqlite.planApprovals;
export let queueEntries = sqlite.queueEntries;
export let queueEntryPaths = sqlite.queueEntryPaths;
export let changeQueueLogs = sqlite.changeQueueLogs;
export let remotes = sqlite.remotes;
export let requests = sqlite.requests;
export let agentRuns = sqlite.agentRuns;
export let agentRunEvents = sqlite.agentRunEvents;
export let runSteers = sqlite.runSteers;
export let tasks = sqlite.tasks;
export let requestSpecs = sqlite.requestSpecs;
export let inboxFiles = sqlite.inboxFiles;
export let users = sqlite.users;
export let verifications = sqlite.verifications;
export let workerHeartbeats = sqlite.workerHeartbeats;

/**
 * Points the bindings above — in every copy of this module — at one engine's tables. A process
 * uses one engine: switching after the other's tables were used would mix them, so only the
 * first open (or a test) switches.
 */
export function selectDialect(next: Dialect): void {
  shared.dialect = next;
  for (const apply of shared.copies) apply(next);
}

shared.copies.add(applyHere);
applyHere(shared.dialect);

/** This copy's bindings pointed at `next`'s tables. */
function applyHere(next: Dialect): void {
  if (next === dialect) return;
  const t: typeof sqlite = next === "postgres" ? (pgTables() as unknown as typeof sqlite) : sqlite;
  dialect = next;
  alerts = t.alerts;
  alertDeliveries = t.alertDeliveries;
  apiTokens = t.apiTokens;
  approvals = t.approvals;
  diffViews = t.diffViews;
  qaDecisions = t.qaDecisions;
  changeRequests = t.changeRequests;
  checkRuns = t.checkRuns;
  clusterFacts = t.clusterFacts;
  events = t.events;
  githubDeliveries = t.githubDeliveries;
  githubIssues = t.githubIssues;
  loginAttempts = t.loginAttempts;
  logShipments = t.logShipments;
  metaItems = t.metaItems;
  notificationMarks = t.notificationMarks;
  planApprovals = t.planApprovals;
  queueEntries = t.queueEntries;
  queueEntryPaths = t.queueEntryPaths;
  changeQueueLogs = t.changeQueueLogs;
  remotes = t.remotes;
  requests = t.requests;
  agentRuns = t.agentRuns;
  agentRunEvents = t.agentRunEvents;
  runSteers = t.runSteers;
  tasks = t.tasks;
  requestSpecs = t.requestSpecs;
  inboxFiles = t.inboxFiles;
  users = t.users;
  verifications = t.verifications;
  workerHeartbeats = t.workerHeartbeats;
}

/** Every table, by its export name (the PostgreSQL derivation and the copy between engines). */
export const tableNames = [
  "alerts",
  "alertDeliveries",
  "apiTokens",
  "approvals",
  "diffViews",
  "qaDecisions",
  "changeRequests",
  "checkRuns",
  "clusterFacts",
  "events",
  "githubDeliveries",
  "githubIssues",
  "loginAttempts",
  "logShipments",
  "metaItems",
  "notificationMarks",
  "planApprovals",
  "queueEntries",
  "queueEntryPaths",
  "changeQueueLogs",
  "remotes",
  "requests",
  "agentRuns",
  "agentRunEvents",
  "runSteers",
  "tasks",
  "requestSpecs",
  "inboxFiles",
  "users",
  "verifications",
  "workerHeartbeats",
] as const satisfies readonly (keyof typeof sqlite)[];
