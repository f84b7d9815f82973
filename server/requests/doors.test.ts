import fs from "node:fs";
import path from "node:path";
import { asc, eq } from "drizzle-orm";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GithubConfig } from "@/schemas/github";
import { loadConfig } from "@/server/config/load";
import { events, requests } from "@/server/db/schema";
import { createDemoRepo } from "@/server/demo/create";
import { fileIssue } from "@/server/github/issues";
import { ingestFile } from "@/server/inbox/ingest";
import { type Context, createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import { makeWorld, type TestWorld, tempDir, worldEnv } from "@/test-support/fixtures";

// One intake (requests/intake.ts): the browser, the API, the CLI, the inbox folder and GitHub
// issues each file through it, and each request lands in exactly one repository — the one it
// names — with one `request.created` event, which only the intake writes.

let world: TestWorld;
const createCaller = createCallerFactory(appRouter);

beforeEach(async () => {
  world = await makeWorld();
  // A second repository, `api`, beside the demo, mapped to a GitHub repository.
  const raw = JSON.parse(fs.readFileSync(world.env.configPath, "utf8"));
  const apiDir = path.join(world.dir, "repos", "api");
  await createDemoRepo(apiDir);
  raw.repositories.push({ ...raw.repositories[0], name: "api", path: apiDir, github: "acme/api" });
  raw.repositories[0].github = "acme/shop";
  raw.github = {};
  fs.writeFileSync(world.env.configPath, JSON.stringify(raw, null, 2));
  world.config = loadConfig(world.env.configPath);
});
afterEach(() => world.cleanup());

const asked = (title: string, repo: string) => ({
  title,
  description: "",
  repo,
  files: ["docs/guide.md"],
});

describe("every door files through the one intake", () => {
  it("browser, API, CLI, inbox and GitHub: each request routed to exactly the repository it names", async () => {
    const caller = (via: "session" | "token") =>
      createCaller({
        db: world.db,
        env: world.env,
        user: world.admin,
        crossOrigin: false,
        via,
      } as Context);
    await caller("session").request.create(asked("From the browser", "api"));
    await caller("token").request.create(asked("From the API", "demo"));

    const cli = await execa("node", [path.resolve("bin/hyperion.mjs"), "request", "-"], {
      env: worldEnv(world),
      input: JSON.stringify(asked("From the CLI", "api")),
      reject: false,
    });
    expect(cli.exitCode, cli.stderr).toBe(0);

    const inbox = tempDir("hyperion-inbox-");
    fs.writeFileSync(path.join(inbox, "one.json"), JSON.stringify(asked("From the inbox", "demo")));
    expect(
      (await ingestFile(world.db, world.config, inbox, path.join(inbox, "one.json"))).outcome,
    ).toBe("processed");
    fs.rmSync(inbox, { recursive: true, force: true });

    const github = { ...world.config, github: GithubConfig.parse({}) };
    const filed = await fileIssue(world.db, github, "acme/api", {
      number: 7,
      title: "From GitHub",
      body: "```files\ndocs/guide.md\n```",
      html_url: "https://github.com/acme/api/issues/7",
      labels: [{ name: "hyperion" }],
      user: { login: "someone" },
    } as Parameters<typeof fileIssue>[3]);
    expect(filed.refusal).toBeNull();

    const rows = await world.db
      .select({
        id: requests.id,
        title: requests.title,
        repo: requests.repo,
        source: requests.source,
      })
      .from(requests)
      .orderBy(asc(requests.id));
    expect(rows.map(({ title, repo, source }) => ({ title, repo, source }))).toEqual([
      { title: "From the browser", repo: "api", source: "web" },
      { title: "From the API", repo: "demo", source: "api" },
      { title: "From the CLI", repo: "api", source: "cli" },
      { title: "From the inbox", repo: "demo", source: "inbox" },
      { title: "From GitHub", repo: "api", source: "github" },
    ]);
    // Each has one request.created event, routed to that one repository.
    const created = await world.db
      .select({ entityId: events.entityId, payload: events.payload })
      .from(events)
      .where(eq(events.type, "request.created"))
      .orderBy(asc(events.id));
    expect(created.map((e) => [e.entityId, (e.payload as { repo: string }).repo])).toEqual(
      rows.map((r) => [r.id, r.repo]),
    );
  });

  it("no door records a request but through the intake", () => {
    // The doors' modules reach the intake's two steps (or fileRequests, both at once) ...
    const doors = {
      "server/trpc/routers/request.ts": /\bfileRequests\(/,
      "server/cli/commands/request.ts": /\bfileIntake\(/,
      "server/inbox/ingest.ts": /\bfileIntake\(/,
      "server/github/issues.ts": /\bfileIntake\(/,
    };
    for (const [file, call] of Object.entries(doors)) {
      const text = fs.readFileSync(file, "utf8");
      expect(text, file).toMatch(call);
      expect(text, file).not.toMatch(/\bcreateRequests?\(/);
    }
    // ... which alone calls createRequests, the one caller of the request store's writer.
    const callers = (pattern: RegExp) =>
      walk("server").filter(
        (f) => !f.endsWith(".test.ts") && pattern.test(fs.readFileSync(f, "utf8")),
      );
    expect(callers(/\bcreateRequests\(/)).toEqual([
      "server/requests/intake.ts",
      "server/requests/service.ts",
    ]);
    expect(callers(/\bcreateRequest\(/)).toEqual([
      "server/requests/service.ts",
      "server/state/requests/store.ts",
    ]);
  });
});

function walk(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? walk(path.join(dir, e.name))
        : e.name.endsWith(".ts")
          ? [path.join(dir, e.name)]
          : [],
    )
    .sort();
}
