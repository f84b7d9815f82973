// The end-to-end run's data directory, made before `hyperion start`: the demo repository, as
// start would make it, and a second repository, `gated`, whose one check waits at a gate the
// tests open (e2e/support/gate.ts). With the config present, start keeps it and adds the
// database and the admin as on any start. The demo's changes land without review (its policy
// turns the approval tiers off); a third repository, `reviewed`, a copy of the demo with the
// default tiers, is where changes wait for a reviewer (e2e/approvals.spec.ts). A fourth,
// `agents`, gives its areas to the real agent CLIs (e2e/support/agents.ts,
// e2e/real-agents.spec.ts). A fifth, `planned`, is held by its plan file (e2e/plan-gate.spec.ts).
import fs from "node:fs";
import path from "node:path";
import { createDemoRepo } from "@/server/demo/create";
import { demoPolicy } from "@/server/demo/policy";
import { git } from "@/server/git/run";
import { agentsConfig, agentsRepository } from "./support/agents";
import { alertsConfig } from "./support/alerts";
import { gateScript } from "./support/gate";
import { GITHUB_PORT, GITHUB_REPO } from "./support/github";

// The gated repository's `command` agent (areas notes and slow): a few lines of Node given
// with -e. It reads the prompt file (its last argument) and appends a line to each file the
// task may change — or, for a file under slow/, says it is thinking and never ends, so a test
// can steer a run that is going; for notes/broken-*, writes a stack trace to stderr and exits 1;
// for notes/nothing-*, changes nothing and says why.
const AGENT = [
  'const fs = require("fs"); const p = fs.readFileSync(process.argv[1], "utf8");',
  'const files = [...p.split("## Files you may change")[1].split("##")[0].matchAll(/^- (.+)$/gm)].map((m) => m[1]);',
  'if (files.some((f) => f.startsWith("notes/broken-"))) { for (let i = 0; i < 25; i++) console.error("trace line " + i);',
  'console.error("Error: Cannot find module /srv/tools/agent.mjs"); console.error("    at Module._load (node:internal)"); process.exit(1); }',
  'if (files.some((f) => f.startsWith("notes/nothing-"))) { console.log("Nothing to change: the note already says it."); process.exit(0); }',
  'if (files.some((f) => f.startsWith("slow/"))) { console.log("thinking"); setInterval(() => {}, 1000); }',
  'else { for (const f of files) { fs.mkdirSync(require("path").dirname(f), { recursive: true }); fs.appendFileSync(f, "agent line\\n"); }',
  'console.log(JSON.stringify({ kind: "message", text: "edited " + files.join(", ") })); }',
].join(" ");

// The reviewed repository's `command` agent (area cart): it appends the whole prompt file, as
// `//` comment lines, to each file the task may change — so a re-dispatched task's change
// carries the reviewer's reason its prompt was given.
const PROMPT_AGENT = [
  'const fs = require("fs"); const p = fs.readFileSync(process.argv[1], "utf8");',
  'const files = [...p.split("## Files you may change")[1].split("##")[0].matchAll(/^- (.+)$/gm)].map((m) => m[1]);',
  'for (const f of files) fs.appendFileSync(f, p.split("\\n").map((l) => "// " + l).join("\\n") + "\\n");',
  'console.log(JSON.stringify({ kind: "message", text: "wrote the prompt into " + files.join(", ") }));',
].join(" ");

const data = path.resolve(process.env.HYPERION_DATA ?? ".tmp/e2e-data");
const demo = path.join(data, "repos", "demo");
const gated = path.join(data, "repos", "gated");
const reviewed = path.join(data, "repos", "reviewed");
const piped = path.join(data, "repos", "piped");
await createDemoRepo(demo);
await createDemoRepo(reviewed);
// The metered repository: a copy of the demo that only e2e/metrics.spec.ts lands changes in, so
// the metrics page's figures for it are exact.
await createDemoRepo(path.join(data, "repos", "metered"));

fs.mkdirSync(path.join(gated, "src"), { recursive: true });
fs.writeFileSync(path.join(gated, "gate.mjs"), gateScript);
fs.writeFileSync(path.join(gated, "src", "app.js"), "export const app = 1;\n");
fs.writeFileSync(path.join(gated, "README.md"), "# Gated\n\nA repository whose check waits.\n");
const who = {
  GIT_AUTHOR_NAME: "E2E",
  GIT_AUTHOR_EMAIL: "e2e@hyperion.local",
  GIT_COMMITTER_NAME: "E2E",
  GIT_COMMITTER_EMAIL: "e2e@hyperion.local",
};
await git(["init", "--quiet", "--initial-branch=main"], { cwd: gated });
await git(["add", "--all"], { cwd: gated });
await git(["commit", "--quiet", "--no-gpg-sign", "-m", "Gated: first commit"], {
  cwd: gated,
  env: who,
});

// The piped repository: a bare one whose check waits at the same gate, and whose policy lands
// changes through the speculative pipeline in batches of two (e2e/pipeline.spec.ts).
{
  const seed = path.join(data, "repos", "piped-seed");
  fs.mkdirSync(path.join(seed, "src"), { recursive: true });
  fs.writeFileSync(path.join(seed, "gate.mjs"), gateScript);
  fs.writeFileSync(path.join(seed, "src", "app.js"), "export const app = 1;\n");
  await git(["init", "--quiet", "--initial-branch=main"], { cwd: seed });
  await git(["add", "--all"], { cwd: seed });
  await git(["commit", "--quiet", "--no-gpg-sign", "-m", "Piped: first commit"], {
    cwd: seed,
    env: who,
  });
  await git(["clone", "--quiet", "--bare", seed, piped]);
  fs.rmSync(seed, { recursive: true, force: true });
}

// The planned repository: a copy of the demo whose policy names a plan file, WORKPLAN.md, that
// has every required section but no 'Approved: yes' line, so its plan gate holds every task
// (e2e/plan-gate.spec.ts).
const planned = path.join(data, "repos", "planned");
if (await createDemoRepo(planned)) {
  fs.writeFileSync(
    path.join(planned, "WORKPLAN.md"),
    [
      "# WORKPLAN",
      "",
      "## Plan Metadata",
      "Approval pattern: ^Approved:[[:space:]]+yes$",
      "Required sections: Intent, Plan, Validation, Approval",
      "Validation policy: test",
      "",
      "## Intent",
      "Round the cart's totals.",
      "",
      "## Plan",
      "- Round in one place.",
      "",
      "## Validation",
      "test",
      "",
      "## Approval",
      "Approved: not yet",
      "",
    ].join("\n"),
  );
  await git(["add", "WORKPLAN.md"], { cwd: planned });
  await git(["commit", "--quiet", "--no-gpg-sign", "-m", "The plan"], { cwd: planned, env: who });
}

// The hub repository: a copy of the demo on a git server (a bare repository reached by file://),
// taking its work from issues on the fake GitHub (e2e/github.spec.ts).
const hubServer = path.join(data, "servers", "hub.git");
{
  const seed = path.join(data, "repos", "hub-seed");
  await createDemoRepo(seed);
  await git(["clone", "--quiet", "--bare", seed, hubServer]);
  fs.rmSync(seed, { recursive: true, force: true });
}

fs.writeFileSync(
  path.join(data, "hyperion.config.json"),
  `${JSON.stringify(
    {
      repositories: [
        {
          name: "demo",
          path: "repos/demo",
          targetBranch: "main",
          policy: {
            ...demoPolicy,
            approvals: { low: { approvals: 0 }, medium: { approvals: 0 }, high: { approvals: 0 } },
          },
        },
        {
          name: "metered",
          path: "repos/metered",
          targetBranch: "main",
          policy: {
            ...demoPolicy,
            approvals: { low: { approvals: 0 }, medium: { approvals: 0 }, high: { approvals: 0 } },
          },
        },
        {
          name: "reviewed",
          path: "repos/reviewed",
          targetBranch: "main",
          policy: {
            ...demoPolicy,
            agents: {
              byArea: { cart: "command" },
              command: `node -e '${PROMPT_AGENT}'`,
              stallTimeoutMs: 120_000,
            },
          },
        },
        {
          name: "gated",
          path: "repos/gated",
          targetBranch: "main",
          policy: {
            areas: [
              { name: "app", paths: ["src/**"], risk: "low", lockScope: "files" },
              { name: "docs", paths: ["*.md", "gate.mjs"], risk: "low", lockScope: "files" },
              { name: "notes", paths: ["notes/**"], risk: "low", lockScope: "files" },
              { name: "slow", paths: ["slow/**"], risk: "low", lockScope: "files" },
            ],
            checks: { gate: { run: "node gate.mjs", network: true, timeoutMs: 60_000 } },
            validation: {
              lint: [],
              test: ["gate"],
              byArea: { notes: { lint: [], test: [] }, slow: { lint: [], test: [] } },
            },
            agents: {
              byArea: { notes: "command", slow: "command" },
              command: `node -e '${AGENT}'`,
              stallTimeoutMs: 120_000,
            },
          },
        },
        {
          name: "piped",
          path: "repos/piped",
          targetBranch: "main",
          policy: {
            areas: [{ name: "app", paths: ["src/**"], risk: "low", lockScope: "files" }],
            checks: { gate: { run: "node gate.mjs", network: true, timeoutMs: 60_000 } },
            validation: { lint: [], test: ["gate"], byArea: {} },
            queue: { pipeline: { window: 8, batch: { max: 2 }, flakyReruns: 0 } },
          },
        },
        {
          name: "planned",
          path: "repos/planned",
          targetBranch: "main",
          policy: {
            ...demoPolicy,
            approvals: { low: { approvals: 0 }, medium: { approvals: 0 }, high: { approvals: 0 } },
            plan: "WORKPLAN.md",
          },
        },
        await agentsRepository(path.join(data, "repos", "agents"), "repos/agents"),
        {
          name: "hub",
          remote: `file://${hubServer}`,
          targetBranch: "main",
          github: GITHUB_REPO,
          policy: {
            ...demoPolicy,
            approvals: { low: { approvals: 0 }, medium: { approvals: 0 }, high: { approvals: 0 } },
          },
        },
      ],
      agents: agentsConfig,
      alerts: alertsConfig,
      github: {
        apiUrl: `http://127.0.0.1:${GITHUB_PORT}`,
        reconcileIntervalSeconds: 0,
        closeIssues: true,
      },
    },
    null,
    2,
  )}\n`,
);

// Manual QA (e2e/qa.spec.ts): the repositories above land without it (their specs test other
// things); two copies of the demo, `qa-web` and `qa-api`, keep the demo's QA gate (feature and
// bugfix requests wait in qa_required after their checks pass) with no approval tiers.
{
  const file = path.join(data, "hyperion.config.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const r of config.repositories) r.policy = { ...r.policy, qa: { kinds: [] } };
  for (const name of ["qa-web", "qa-api"]) {
    await createDemoRepo(path.join(data, "repos", name));
    config.repositories.push({
      name,
      path: `repos/${name}`,
      targetBranch: "main",
      policy: {
        ...demoPolicy,
        approvals: { low: { approvals: 0 }, medium: { approvals: 0 }, high: { approvals: 0 } },
      },
    });
  }
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}

// The workspace meta queue (e2e/meta.spec.ts): `meta-web` and `meta-api`, copies of the demo
// that land without QA or approvals, for a request of one that waits for a request of the other.
{
  const file = path.join(data, "hyperion.config.json");
  const config = JSON.parse(fs.readFileSync(file, "utf8"));
  for (const name of ["meta-web", "meta-api"]) {
    await createDemoRepo(path.join(data, "repos", name));
    config.repositories.push({
      name,
      path: `repos/${name}`,
      targetBranch: "main",
      policy: {
        ...demoPolicy,
        qa: { kinds: [] },
        approvals: { low: { approvals: 0 }, medium: { approvals: 0 }, high: { approvals: 0 } },
      },
    });
  }
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}
