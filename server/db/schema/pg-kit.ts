import { pgTables } from "./pg";

// For drizzle-kit only (drizzle.pg.config.ts): it finds tables among a module's named exports.
// server/db/schema/index.ts lists the same names; its test checks the two agree.
export const {
  alerts,
  alertDeliveries,
  apiTokens,
  approvals,
  diffViews,
  changeRequests,
  checkRuns,
  clusterFacts,
  events,
  githubDeliveries,
  githubIssues,
  loginAttempts,
  logShipments,
  notificationMarks,
  queueEntries,
  queueEntryPaths,
  changeQueueLogs,
  remotes,
  requests,
  agentRuns,
  agentRunEvents,
  runSteers,
  tasks,
  requestSpecs,
  inboxFiles,
  users,
  verifications,
  workerHeartbeats,
} = pgTables();
