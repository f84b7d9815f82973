import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentRunEvents, requests } from "@/server/db/schema";
import { makeLogger } from "@/server/log";
import { addSpanProcessor, traceIdOf, withSpan } from "@/server/trace";
import { type Context, createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import { agentWorld } from "@/test-support/agent-world";

// One trace per request: the web's mutation, the request's filing, the worker's planning and the
// agent's run share its trace id, and the agent's CLI gets the run span's TRACEPARENT.

// The `command` agent: edits the task's files (as in run.test.ts) and says what TRACEPARENT it got.
const EDIT_AND_SAY = `const fs = require("fs"); const p = fs.readFileSync(process.argv[1], "utf8");
const files = [...p.split("## Files you may change")[1].split("##")[0].matchAll(/^- (.+)$/gm)].map((m) => m[1]);
for (const f of files) { fs.mkdirSync(require("path").dirname(f), { recursive: true }); fs.appendFileSync(f, "agent line\\n"); }
console.log(JSON.stringify({ kind: "message", text: "TRACEPARENT=" + (process.env.TRACEPARENT || "none") }));`;

const aw = agentWorld();
const exporter = new InMemorySpanExporter();
let detach: () => void = () => {};
beforeEach(() => {
  exporter.reset();
  detach = addSpanProcessor(new SimpleSpanProcessor(exporter));
});
afterEach(() => detach());

describe("a request's trace", () => {
  it("runs from the web's mutation through the worker to the agent's environment", async () => {
    aw.setCommand(EDIT_AND_SAY);
    const caller = createCallerFactory(appRouter)({
      db: aw.world.db,
      env: aw.world.env,
      user: aw.world.admin,
      crossOrigin: false,
      via: "session",
    } as Context);
    const [filed] = await caller.request.create({
      title: "Note the guide",
      description: "Add a line.",
      repo: "demo",
      files: ["docs/guide.md"],
    });
    const requestId = filed?.id ?? 0;
    const [row] = await aw.world.db.select().from(requests).where(eq(requests.id, requestId));
    const traceId = traceIdOf(row?.traceParent);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    await aw.pool.probeAll(aw.world.config);
    await aw.dispatch();
    await aw.pool.idle();
    const { run } = await aw.readBack(requestId);
    expect(run?.state).toBe("submitted");

    const spans = exporter.getFinishedSpans();
    const named = (name: string) => spans.filter((s) => s.name === name);
    for (const name of ["trpc request.create", "request.file", "request.plan", "agent.run"]) {
      expect(named(name).length, name).toBeGreaterThan(0);
      for (const s of named(name)) expect(s.spanContext().traceId, name).toBe(traceId);
    }
    const agentRun = named("agent.run")[0];
    expect(agentRun?.attributes["hyperion.run"]).toBe(run?.id);

    // The agent saw the run span's traceparent: same trace, the run span as its parent.
    const said = (
      await aw.world.db
        .select()
        .from(agentRunEvents)
        .where(eq(agentRunEvents.runId, run?.id ?? 0))
    )
      .map((e) => (e.event as { text?: string }).text ?? "")
      .find((t) => t.startsWith("TRACEPARENT="));
    const traceparent = said?.slice("TRACEPARENT=".length);
    expect(traceIdOf(traceparent)).toBe(traceId);
    expect(traceparent?.split("-")[2]).toBe(agentRun?.spanContext().spanId);
  });

  it("puts its trace id on the log lines logged inside its spans", () => {
    const lines: Record<string, unknown>[] = [];
    const logger = makeLogger({
      console: true,
      stderr: { write: (s: string) => lines.push(JSON.parse(s)) },
      file: { write: () => {} },
    });
    const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    withSpan("test", {}, () => logger.info("inside"), parent);
    logger.info("outside");
    expect(lines[0]).toMatchObject({ msg: "inside", traceId: "0af7651916cd43dd8448eb211c80319c" });
    expect(lines[1]).not.toHaveProperty("traceId");
  });
});
