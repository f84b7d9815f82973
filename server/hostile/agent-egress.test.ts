import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliAgentName } from "@/schemas/agents";
import { cliAgentNames } from "@/schemas/agents";
import { agentClisDir, installPrefix, verifyIntegrity } from "@/server/agents/cli/integrity.mjs";
import versions from "@/server/agents/cli/versions.json";
import { detectSandbox } from "@/server/confine/detect";
import { PLACEHOLDER_KEY } from "@/server/confine/egress";
import { agentRuns, changeRequests, tasks } from "@/server/db/schema";
import { agentWorld } from "@/test-support/agent-world";
import { dropRunsTmp, useRunsTmp } from "@/test-support/fixtures";
import {
  type ModelServer,
  type RecordedRequest,
  SCRIPTED_KEY_ENV,
  SCRIPTED_MODELS,
  startModelServer,
} from "@/test-support/model-server";

// A hostile agent's network, through the whole harness (pool → run → bubblewrap → egress
// proxy), for each real CLI and a `command` agent: Hyperion's web server and a canary listener
// on the host are unreachable, the model's other paths are refused, the agent's environment holds
// only a placeholder key, and the scripted model server is reached — with the real key.

const MODELS: Record<CliAgentName, string> = SCRIPTED_MODELS;
const KEY_ENV = SCRIPTED_KEY_ENV;
const REAL_KEY = "the-real-scripted-key-0123456789";
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

let web: http.Server;
let canary: net.Server;
let webPort = 0;
let canaryPort = 0;
let webHits = 0;
let canaryHits = 0;
let runsTmp: string;

beforeAll(async () => {
  // Stand-ins for Hyperion's web server and any other local listener.
  web = http.createServer((_req, res) => {
    webHits++;
    res.end("hyperion web");
  });
  canary = net.createServer((c) => {
    canaryHits++;
    c.end("canary");
  });
  await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => canary.listen(0, "127.0.0.1", r));
  webPort = (web.address() as net.AddressInfo).port;
  canaryPort = (canary.address() as net.AddressInfo).port;
});

afterAll(() => {
  web.close();
  canary.close();
});

/** Every pinned CLI's files, as recorded at install: no run changed them. */
function installsIntact(): string[] {
  return cliAgentNames.flatMap((name) => {
    const prefix = installPrefix(agentClisDir(), name, versions[name].version);
    const v = verifyIntegrity(prefix, { label: name, full: true });
    return v.ok ? [] : [v.summary as string];
  });
}

let server: ModelServer | null = null;
const aw = agentWorld({
  stopStepMs: 300,
  setup: () => {
    runsTmp = useRunsTmp("hyperion-egress-");
    process.env[KEY_ENV] = REAL_KEY;
  },
  teardown: async () => {
    await server?.close();
    server = null;
    dropRunsTmp(runsTmp);
  },
});

/**
 * What the agent tries, in one shell command; its output goes back to the model. The markers
 * are put together at run time, so they appear in the tool's output and never in the command.
 */
const probeScript = () =>
  [
    'echo ENV-""START; env | grep -iE "key|token|secret" ; echo ENV-""END',
    `node -e "for (const p of [${webPort}, ${canaryPort}]) require('net').connect(p, '127.0.0.1').on('data', d => console.log('REACH' + 'ED', p)).on('error', e => console.log('NO' + 'PE', p, e.code))"`,
    `node -e "fetch('http://127.0.0.1:4100/admin/exfil', { method: 'POST', body: 'x' }).then(r => console.log('EXF' + 'IL', r.status)).catch(e => console.log('EXF' + 'IL', e.message))"`,
    // Privilege, from the CLI's own tool: ids and capabilities, and the escapes that worked as root.
    "grep -E '^(Uid|CapEff):' /proc/self/status | tr '\\t' ' ' | sed 's/^/PRIV /'",
    'umount /etc/passwd 2>/dev/null && echo ESC""APED umount',
    'mount -o remount,bind,rw /usr 2>/dev/null && echo ESC""APED remount',
    'unshare -Ur true 2>/dev/null && echo ESC""APED unshare',
    'for f in /etc/shadow /etc/ssh /root; do [ -e "$f" ] && echo ESC""APED "$f"; done',
    // Plant code where Hyperion would run it: the CLI's own install, and a git on a system folder.
    'for d in "$(dirname "$(command -v node)")" /usr/local/bin /usr/bin; do (echo x > "$d/git") 2>/dev/null && echo ESC""APED plant "$d"; done',
    // Listening sockets the agent can see: only its own namespace's (forward.mjs on 4100).
    'awk \'NR>1 && $4=="0A" {print "LISTEN" "ING " $2}\' /proc/net/tcp',
  ].join("; ");

/** The text the agent's tool produced, as the CLI sent it back to the model. */
const sentBack = (req: RecordedRequest) => JSON.stringify(req.body);

const runOf = async (requestId: number) => {
  const [task] = await aw.world.db
    .select()
    .from(tasks)
    .where(eq(tasks.requestId, requestId))
    .limit(1);
  return (
    await aw.world.db
      .select()
      .from(agentRuns)
      .where(eq(agentRuns.taskId, task?.id ?? ""))
      .limit(1)
  )[0];
};

describe.runIf(detectSandbox().kind === "bwrap")("an agent's network", () => {
  for (const agent of cliAgentNames) {
    it(`${agent}: reaches only its model, through the proxy, which adds the real key`, {
      timeout: 120_000,
    }, async () => {
      let toolOutput = "";
      server = await startModelServer([
        { shell: probeScript() },
        (req) => {
          toolOutput = sentBack(req);
          return { text: "done" };
        },
      ]);
      aw.setAgents({ default: agent });
      aw.world.config.agents = {
        [agent]: { endpoint: `${server.url}/v1`, model: MODELS[agent], apiKeyEnv: KEY_ENV },
      };
      const probes = await aw.pool.probeAll(aw.world.config);
      expect([...probes.values()][0]).toMatchObject({ ok: true });
      const before = { web: webHits, canary: canaryHits };
      const requestId = await aw.fileRequest(["docs/guide.md"]);
      await aw.pass();
      await aw.pass();
      await aw.pool.idle();
      expect(
        (await runOf(requestId))?.turns ?? 0,
        (await runOf(requestId))?.reason ?? "",
      ).toBeGreaterThan(0);

      // The tool ran, and told the model what it found.
      expect(toolOutput.includes("ENV-END"), "the probe's output reached the model").toBe(true);
      expect(toolOutput).toContain(`NOPE ${webPort}`);
      expect(toolOutput).toContain(`NOPE ${canaryPort}`);
      expect(toolOutput.includes("REACHED")).toBe(false);
      expect(toolOutput.includes("ESCAPED"), "an escape worked").toBe(false);
      expect(toolOutput).toMatch(/PRIV CapEff: 0{16}/);
      expect(toolOutput).toMatch(/PRIV Uid: [1-9]\d*/);
      expect(toolOutput).toMatch(/EXFIL 403/);
      const listening = [...toolOutput.matchAll(/LISTENING [0-9A-F]{8}:([0-9A-F]{4})/g)].map((m) =>
        Number.parseInt(m[1] as string, 16),
      );
      expect(listening).toContain(4100); // forward.mjs's own, on the sandbox's loopback
      expect(listening).not.toContain(webPort);
      expect(listening).not.toContain(canaryPort);
      expect(toolOutput.includes(REAL_KEY)).toBe(false);
      // The CLI holds the placeholder (Copilot's shell tool also keeps key variables from its tools).
      if (agent !== "copilot") expect(toolOutput).toContain(PLACEHOLDER_KEY);
      expect({ web: webHits, canary: canaryHits }).toEqual(before);
      // Every request that reached the model carried the real key, never the placeholder.
      const model = server.requests.filter((r) => r.protocol);
      expect(model.length).toBeGreaterThanOrEqual(2);
      expect(new Set(model.map((r) => r.keySha256))).toEqual(new Set([sha256(REAL_KEY)]));
      expect(server.requests.some((r) => r.path.includes("admin"))).toBe(false);
      expect(server.requests.some((r) => r.keySha256 === sha256(PLACEHOLDER_KEY))).toBe(false);
    });
  }

  it("command: no host listener, no key, and only the hosts the policy allows", {
    timeout: 120_000,
  }, async () => {
    const echo = net.createServer((c) => c.end("allowed host"));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const echoPort = (echo.address() as net.AddressInfo).port;
    const code = [
      'const n=require("net"),f=require("fs"),o=[];',
      'const t=p=>new Promise(r=>n.connect(p,"127.0.0.1").on("data",d=>{o.push("REACHED "+p);r()}).on("error",e=>{o.push("NOPE "+p+" "+e.code);r()}));',
      // Through the proxy: CONNECT to the allowed host, and to the web server (not allowed).
      'const c=h=>new Promise(r=>{const s=n.connect(4101,"127.0.0.1",()=>s.write("CONNECT "+h+" HTTP/1.1\\r\\nHost: "+h+"\\r\\n\\r\\n"));let g="";s.on("data",d=>{g+=d;if(g.includes("allowed host")||g.startsWith("HTTP/1.1 403")){o.push("PROXY "+h+" "+g.split("\\r\\n")[0]+(g.includes("allowed host")?" allowed host":""));s.destroy();r()}}).on("error",e=>{o.push("PROXY "+h+" "+e.code);r()})});',
      `(async()=>{await t(${webPort});await t(${canaryPort});await c("127.0.0.1:${echoPort}");await c("127.0.0.1:${webPort}");`,
      'o.push("KEYS "+Object.keys(process.env).filter(k=>/key|token|secret/i.test(k)).join(","));f.writeFileSync("docs/guide.md",o.join("\\n")+"\\n")})()',
    ].join("");
    aw.setAgents({
      default: "command",
      command: `node -e '${code}'`,
      allowHosts: [`127.0.0.1:${echoPort}`],
    });
    const before = { web: webHits, canary: canaryHits };
    try {
      const requestId = await aw.fileRequest(["docs/guide.md"]);
      await aw.pass();
      await aw.pass();
      await aw.pool.idle();
      const run = await runOf(requestId);
      expect(run?.state, run?.reason ?? "").toBe("submitted");
      const [row] = await aw.world.db
        .select({ patch: changeRequests.patch })
        .from(changeRequests)
        .where(eq(changeRequests.id, run?.changeRequestId ?? 0))
        .limit(1);
      const change = row?.patch;
      expect(change).toContain(`NOPE ${webPort} ECONNREFUSED`);
      expect(change).toContain(`NOPE ${canaryPort} ECONNREFUSED`);
      expect(change).toContain(`PROXY 127.0.0.1:${echoPort} HTTP/1.1 200`);
      expect(change).toContain("allowed host");
      expect(change).toContain(`PROXY 127.0.0.1:${webPort} HTTP/1.1 403`);
      expect(change).toMatch(/^\+KEYS $/m);
      expect({ web: webHits, canary: canaryHits }).toEqual(before);
    } finally {
      echo.close();
    }
  });

  it("a run past its limits fails with the run and the limit named, and no CLI install changed", {
    timeout: 120_000,
  }, async () => {
    const repo = aw.world.config.repositories[0];
    if (!repo?.policy) throw new Error("the demo has a policy");
    repo.policy.runLimits = { ...repo.policy.runLimits, processes: 64 };
    aw.setAgents({
      default: "command",
      command: `perl -e 'for (1..2000) { my $p = fork(); last unless defined $p; if ($p == 0) { sleep 60; exit 0 } } sleep 60'`,
    });
    const requestId = await aw.fileRequest(["docs/guide.md"]);
    await aw.pass();
    await aw.pass();
    await aw.pool.idle();
    const run = await runOf(requestId);
    expect(run?.state).toBe("failed");
    expect(run?.reason).toBe(`run ${run?.id} started more than 64 processes (runLimits.processes)`);
    expect(installsIntact()).toEqual([]);
  });
});
