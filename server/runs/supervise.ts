import type { AgentEvent } from "@/schemas/agent-event";
import type { AgentPolicy } from "@/schemas/agents";
import { grouped, humanCount } from "@/schemas/bounded";
import type { Db } from "@/server/db/client";
import { log } from "@/server/log";
import { countRunEvents } from "@/server/runs/queries";
import { countUnparsed, type RunRow, recordRunEvents } from "@/server/state/runs/store";
import { renewLease, TaskMoveConflict, type TaskRow } from "@/server/state/tasks/store";
import type { AgentSession } from "../agents/harness";
import type { Control, RunContext, Stop } from "./context";
import { applySteers } from "./steer";

export type SessionResult = { fatal?: string; lastMessage?: string };

/** Events a session's reader holds before it stores them, whatever the tick does. */
const FLUSH_AT = 500;
/** Output items read between two turns of the event loop: timers (the tick) run on time. */
const YIELD_EVERY = 256;
/** How often, at most, a summary of dropped output lines is stored. */
const DROP_SUMMARY_MS = 1000;

/**
 * Reads a session's output into the run's events (in bounded batches), and watches it: the task
 * lease is renewed while it runs; no event for the stall timeout, or the run timeout, stops it.
 *
 * Whatever the agent prints, supervision goes on: the reader yields to the event loop every
 * YIELD_EVERY items, so the tick runs on time; events past `maxEventsPerSecond` are counted,
 * not stored, and summarised ("dropped 1.2 M lines of output …") at most once a second; more
 * than `maxEvents` in the run ends it; and the tick's flush, lease renewal and steering are each
 * tried on their own, so one failing cannot skip the others.
 */
export async function supervise(
  ctx: RunContext,
  task: TaskRow,
  run: RunRow,
  session: AgentSession,
  policy: AgentPolicy,
  startedAt: number,
  control: Control,
): Promise<SessionResult> {
  const events = await new RunEvents(ctx.db, run, policy).load();
  const result: SessionResult = {};
  let lastActivity = Date.now();
  let stopping = false;
  const stopFor = (s: Stop) => {
    control.requestStop(s);
  };
  control.onWake(() => {
    if (!stopping) {
      stopping = true;
      void session.stop();
    }
  });
  const timer = await watch(
    { ctx, task, run, session, policy, startedAt, events, stopFor },
    () => lastActivity,
  );
  let read = 0;
  try {
    for await (const out of session.output) {
      const now = Date.now();
      lastActivity = now;
      if (++read % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if ("overflow" in out) {
        stopFor({
          kind: "fail",
          reason: `the agent printed more than ${policy.maxOutputBytes} bytes of output (agents.maxOutputBytes)`,
        });
        break;
      }
      if ("unparsed" in out) {
        events.unparsed++;
        continue;
      }
      const e = out.event;
      if (e.kind === "message") result.lastMessage = e.text.slice(0, 1000);
      if (e.kind === "error" && e.fatal) result.fatal = e.message.slice(0, 1000);
      const taken = events.take(e, now);
      if (taken === "over") {
        stopFor({
          kind: "fail",
          reason: `the agent printed more than ${grouped(policy.maxEvents)} events (agents.maxEvents)`,
        });
        break;
      }
      if (taken === "held" && events.full)
        try {
          await events.flush();
        } catch (err) {
          log.warn({ run: run.id, err: (err as Error).message }, "run events not stored");
        }
    }
    await session.exited;
  } finally {
    clearInterval(timer);
    events.summarise(Date.now(), true);
    await events.flush();
  }
  const exit = await session.exited;
  if (!result.fatal && exit.exitCode !== 0 && !control.stopRequested())
    result.fatal = `exited with ${exit.signal ?? `code ${exit.exitCode}`}`;
  return result;
}

type Watched = {
  ctx: RunContext;
  task: TaskRow;
  run: RunRow;
  session: AgentSession;
  policy: AgentPolicy;
  startedAt: number;
  events: RunEvents;
  stopFor: (s: Stop) => void;
};

/**
 * Looks at a running session every tick: its events stored, its task's lease renewed, its
 * steering applied, its timeouts. Each on its own: a flush that fails must not skip the lease
 * or the steering.
 */
function watch(w: Watched, lastActivity: () => number): NodeJS.Timeout {
  const { ctx, task, run, policy, events, stopFor } = w;
  let lastRenew = 0;
  return setInterval(async () => {
    const now = Date.now();
    try {
      events.summarise(now);
      await events.flush();
    } catch (err) {
      log.warn({ run: run.id, err: (err as Error).message }, "run events not stored");
    }
    try {
      if (now - lastRenew > ctx.leaseMs / 3) {
        lastRenew = now;
        await ctx.db.transaction(async (tx) =>
          renewLease(tx, {
            id: task.id,
            owner: task.leaseOwner ?? ctx.owner,
            attempt: task.attempts,
            until: now + ctx.leaseMs,
            now,
          }),
        );
      }
    } catch (err) {
      if (err instanceof TaskMoveConflict)
        stopFor({ kind: "lost", reason: "the task's lease was lost; another worker holds it" });
      else log.warn({ run: run.id, err: (err as Error).message }, "run lease not renewed");
    }
    try {
      await applySteers(ctx, run.id, w.session, stopFor);
    } catch (err) {
      log.warn({ run: run.id, err: (err as Error).message }, "run steering not applied");
    }
    if (now - w.startedAt > policy.runTimeoutMs)
      stopFor({ kind: "fail", reason: `stopped by the run timeout (${policy.runTimeoutMs} ms)` });
    else if (now - (await lastActivity()) > policy.stallTimeoutMs)
      stopFor({
        kind: "fail",
        reason: `stalled: no agent event for ${Math.round(policy.stallTimeoutMs / 1000)} s`,
      });
  }, ctx.tickMs ?? 250);
}

/**
 * A session's events on their way to the run's: held in a batch until stored, capped at
 * `maxEventsPerSecond` (what is dropped is counted and summarised) and at `maxEvents` a run.
 */
class RunEvents {
  /** Output lines that were not events, counted until the next flush. */
  unparsed = 0;
  private batch: AgentEvent[] = [];
  private adopt: string | undefined;
  // The first session id this session reports is the one a resume names; later ones are not.
  private sessionSeen = false;
  /** Events stored for the run so far (earlier sessions' too): the per-run cap. */
  private stored = 0;
  private windowStart = Date.now();
  private inWindow = 0;
  private dropped = 0;
  private lastSummary = 0;

  constructor(
    private readonly db: Db,
    private readonly run: RunRow,
    private readonly policy: AgentPolicy,
  ) {}

  /** Reads how many events earlier sessions stored; before the first add. */
  async load(): Promise<this> {
    this.stored = await countRunEvents(this.db, this.run.id);
    return this;
  }

  /** The batch is due to be stored, whatever the tick does. */
  get full(): boolean {
    return this.batch.length >= FLUSH_AT;
  }

  /**
   * Takes one event: held for storing, dropped (past the rate cap), or refused because the run
   * is over its `maxEvents` ("over": the run is to end).
   */
  take(e: AgentEvent, now: number): "held" | "dropped" | "over" {
    if (e.kind === "session" && !this.sessionSeen) {
      // Stored whatever the caps: it is what a resume of this session names.
      this.sessionSeen = true;
      this.adopt = e.sessionId;
    } else {
      if (now - this.windowStart >= 1000) {
        this.windowStart = now;
        this.inWindow = 0;
      }
      if (this.inWindow >= this.policy.maxEventsPerSecond) {
        this.dropped++;
        this.summarise(now);
        return "dropped";
      }
      if (this.stored >= this.policy.maxEvents) return "over";
      this.inWindow++;
    }
    this.batch.push(e);
    this.stored++;
    return "held";
  }

  /** Adds a summary of the lines dropped since the last one: at most once a second, unless forced. */
  summarise(now: number, force = false): void {
    if (this.dropped === 0 || (!force && now - this.lastSummary < DROP_SUMMARY_MS)) return;
    this.batch.push({
      kind: "error",
      fatal: false,
      message: `dropped ${humanCount(this.dropped)} lines of output: more than ${grouped(this.policy.maxEventsPerSecond)} a second (agents.maxEventsPerSecond)`,
    });
    this.stored++;
    this.dropped = 0;
    this.lastSummary = now;
  }

  /** Stores what is held (events, the count of unparsed lines, the session to adopt). */
  async flush(): Promise<void> {
    if (this.batch.length === 0 && this.unparsed === 0 && !this.adopt) return;
    const events = this.batch;
    const n = this.unparsed;
    const sessionId = this.adopt;
    this.batch = [];
    this.unparsed = 0;
    this.adopt = undefined;
    await this.db.transaction(async (tx) => {
      await recordRunEvents(tx, this.run, events, sessionId ? { adoptSession: sessionId } : {});
      await countUnparsed(tx, this.run.id, n);
    });
  }
}
