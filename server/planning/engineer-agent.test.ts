import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { AgentName } from "@/schemas/agents";
import { Policy } from "@/schemas/policy";
import { TaskRequest } from "@/schemas/task-request";
import { cliExecutable } from "@/server/agents/cli";
import { requestSpecs, requests, tasks } from "@/server/db/schema";
import { demoPolicy } from "@/server/demo/policy";
import { advance } from "@/server/dispatch/advance";
import { createRequests } from "@/server/requests/service";
import { agentWorld } from "@/test-support/agent-world";
import { type ModelServer, startModelServer } from "@/test-support/model-server";
import type { EngineerInput } from "./engineer";
import { extractJson, validate } from "./engineer-agent";

const policy = Policy.parse(demoPolicy);
const files = [
  "README.md",
  "docs/guide.md",
  "src/cart/cart.js",
  "src/pricing/pricing.js",
  "tests/cart.test.js",
];
function input(over: Partial<TaskRequest> = {}): EngineerInput {
  return {
    request: TaskRequest.parse({ title: "Cap discounts", description: "", repo: "demo", ...over }),
    policy,
    files: files.map((path) => ({ path, size: 400 })),
  };
}
const answer = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    kind: "bugfix",
    areas: ["docs"],
    files: ["docs/guide.md"],
    risk: "low",
    acceptance: ["the guide says so"],
    questions: [],
    ...over,
  });

describe("an agent Engineer's answer", () => {
  it("is read as the whole text, a fenced block, or the outermost braces", () => {
    expect(extractJson('{"a":1}')).toEqual({ a: 1 });
    expect(extractJson('Here it is:\n```json\n{"a":2}\n```\nDone.')).toEqual({ a: 2 });
    expect(extractJson('I think {"a":3} is right')).toEqual({ a: 3 });
    expect(() => extractJson("no json here")).toThrow(/no JSON object/);
  });

  it("becomes a spec whose checks come from the policy, never from the model", () => {
    const r = validate(
      answer({ files: ["src/cart/cart.js"], areas: ["cart"], risk: "medium" }),
      input(),
    );
    expect(r).toMatchObject({
      result: {
        spec: { kind: "bugfix", areas: ["cart"], files: ["src/cart/cart.js"], risk: "medium" },
      },
    });
    if (!("result" in r) || !r.result.spec) throw new Error("a spec");
    expect(r.result.spec.checks).toEqual(["test"]);
  });

  it("cannot lower the risk its areas carry, and two areas are high", () => {
    const low = validate(answer({ files: ["src/pricing/pricing.js"], risk: "low" }), input());
    expect(low).toMatchObject({ result: { spec: { risk: "high", areas: ["pricing"] } } });
    const two = validate(answer({ files: ["docs/guide.md", "tests/cart.test.js"] }), input());
    expect(two).toMatchObject({ result: { spec: { risk: "high", areas: ["docs", "tests"] } } });
  });

  it("may ask instead of scoping", () => {
    const r = validate(answer({ files: [], questions: ["Which page?"] }), input());
    expect(r).toEqual({ result: { spec: null, questions: ["Which page?"] } });
  });

  it.each([
    ["garbage", "I could not decide.", /holds no JSON object/],
    ["a field off the contract", answer({ checks: ["rm -rf /"] }), /checks/],
    ["a wrong kind", answer({ kind: "rewrite" }), /kind/],
    ["a path out of the repository", answer({ files: ["../etc/passwd"] }), /files\.0/],
    ["an invented file", answer({ files: ["src/nowhere.js"] }), /'src\/nowhere\.js' is neither/],
    ["an unknown area", answer({ areas: ["moon"] }), /'moon' is not an area/],
    ["no file and no question", answer({ files: [] }), /named no file and asked nothing/],
  ])("is refused with the reason for %s", (_what, text, reason) => {
    const r = validate(text, input());
    expect(r).toHaveProperty("problem");
    expect((r as { problem: string }).problem).toMatch(reason);
  });
});

// The Engineer through the worker's path: advance() hands the received request to the pool,
// which runs the agent in a confined, read-only workspace and plans with its answer.
describe("the Engineer as an agent, through the worker", () => {
  let server: ModelServer | null = null;
  const aw = agentWorld({
    teardown: async () => {
      await server?.close();
      server = null;
    },
  });

  function engineerIs(engineer: AgentName, command?: string) {
    aw.setAgents({ engineer, ...(command ? { command } : {}) });
  }

  async function fileAndScope(withPool = true) {
    const [r] = await createRequests(aw.world.db, {
      input: {
        title: "Explain discounts in the guide",
        description: "The guide should say discounts are capped.",
        repo: "demo",
      },
      requester: aw.world.admin,
      config: aw.world.config,
      source: "cli",
    });
    const id = r?.id ?? 0;
    await advance(
      aw.world.db,
      aw.world.config,
      "t/dispatcher",
      [id],
      60_000,
      withPool ? aw.pool : undefined,
    );
    await aw.pool.idle();
    const [request] = await aw.world.db.select().from(requests).where(eq(requests.id, id)).limit(1);
    const [spec] = await aw.world.db
      .select()
      .from(requestSpecs)
      .where(eq(requestSpecs.requestId, id))
      .limit(1);
    const planned = await aw.world.db.select().from(tasks).where(eq(tasks.requestId, id));
    return { request, spec, planned };
  }

  // A command Engineer: node -e, reading its prompt (last argument), answering on stdout.
  const ANSWER = `const p = require("fs").readFileSync(process.argv[1], "utf8");
if (!p.includes("- docs/guide.md")) throw new Error("the prompt lists no files");
let wrote = true; try { require("fs").writeFileSync("scribble.txt", "x"); } catch (e) { wrote = false; }
if (wrote) { console.log("the workspace was writable"); process.exit(3); }
console.log(JSON.stringify({ kind: "docs", areas: ["docs"], files: ["docs/guide.md"], risk: "low", acceptance: ["the cap is in the guide"] }));`;

  it("plans with the agent's JSON spec, recorded as its; the workspace is read-only", {
    timeout: 60_000,
  }, async () => {
    engineerIs("command", `node -e '${ANSWER}'`);
    const { request, spec, planned } = await fileAndScope();
    expect(spec?.engineerFallback ?? null).toBeNull();
    expect(spec).toMatchObject({ engineer: "command" });
    expect(spec?.spec).toMatchObject({ kind: "docs", files: ["docs/guide.md"], risk: "low" });
    expect(spec?.spec?.acceptance).toContain("the cap is in the guide");
    expect(request?.status).toBe("planned");
    expect(planned.map((t) => t.neededFiles)).toEqual([["docs/guide.md"]]);
  });

  it("falls back to the built-in Engineer on garbage, and records why", {
    timeout: 60_000,
  }, async () => {
    engineerIs("command", `node -e 'console.log("I would rather not say.")'`);
    const { request, spec } = await fileAndScope();
    expect(spec?.engineer).toBe("builtin");
    expect(spec?.engineerFallback).toMatch(/the command Engineer's answer was not used: .*no JSON/);
    expect(request?.status).toBe("planned");
  });

  it("falls back when the agent cannot run, with its exit", { timeout: 60_000 }, async () => {
    engineerIs("command", "/nonexistent/engineer");
    const { spec } = await fileAndScope();
    expect(spec?.engineer).toBe("builtin");
    expect(spec?.engineerFallback).toMatch(/exited with code \d+ and gave no answer/);
  });

  it("is left to the worker when the CLI plans (no pool)", async () => {
    engineerIs("command", `node -e '${ANSWER}'`);
    const { request, spec } = await fileAndScope(false);
    expect(request?.status).toBe("received");
    expect(spec).toBeUndefined();
  });

  it("a stopping worker leaves the request received, not scoped by the fallback", {
    timeout: 60_000,
  }, async () => {
    engineerIs("command", `node -e 'console.log("thinking"); setInterval(() => {}, 1000)'`);
    const [r] = await createRequests(aw.world.db, {
      input: { title: "Anything", description: "", repo: "demo" },
      requester: aw.world.admin,
      config: aw.world.config,
      source: "cli",
    });
    await advance(aw.world.db, aw.world.config, "t/dispatcher", [r?.id ?? 0], 60_000, aw.pool);
    await aw.pool.stopAll("worker stopping");
    const [request] = await aw.world.db
      .select()
      .from(requests)
      .where(eq(requests.id, r?.id ?? 0))
      .limit(1);
    expect(request?.status).toBe("received");
  });

  it("with a real CLI (Claude Code), its JSON answer scopes the request", {
    timeout: 90_000,
  }, async () => {
    expect(cliExecutable("claude"), "run node bin/agent-clis.mjs").not.toBeNull();
    server = await startModelServer([
      {
        text: JSON.stringify({
          kind: "docs",
          areas: ["docs"],
          files: ["docs/guide.md"],
          risk: "low",
          acceptance: ["the guide names the cap"],
          questions: [],
        }),
      },
    ]);
    process.env.SCRIPTED_MODEL_KEY = "scripted-key-not-a-secret";
    aw.world.config.agents = {
      claude: {
        endpoint: `${server.url}/v1`,
        model: "claude-scripted",
        apiKeyEnv: "SCRIPTED_MODEL_KEY",
      },
    };
    engineerIs("claude");
    const { spec, request } = await fileAndScope();
    expect(spec?.engineerFallback ?? null).toBeNull();
    expect(spec).toMatchObject({ engineer: "claude", spec: { files: ["docs/guide.md"] } });
    expect(request?.status).toBe("planned");
    const asked = server.requests.find((q) => q.protocol === "messages");
    expect(JSON.stringify(asked?.body)).toContain("Explain discounts in the guide");
  });
});
