import { count, eq, sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { boundedBody } from "@/app/api/bounded-body";
import { GithubConfig } from "@/schemas/github";
import type { LoadedConfig } from "@/server/config/load";
import { githubDeliveries, githubIssues, requests } from "@/server/db/schema";
import { rawRun } from "@/server/db/sql";
import { githubClient } from "@/server/remotes/forge-client";
import { requestPage } from "@/server/views/request-page";
import { examplePayload, signedHeaders, startFakeGithub } from "@/test-support/fake-github";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { syncComments } from "./comments";
import { handleDeliveries } from "./intake";
import { receiveGithubWebhook } from "./receive";
import { forgetEtags, reconcile } from "./reconcile";

// The GitHub intake against a fake GitHub written from its REST and webhook documentation, fed
// GitHub's own example payloads signed as GitHub signs them.

const SECRET = "whsec-new-0123456789";
const OLD_SECRET = "whsec-old-9876543210";
const TOKEN = "ghp_faketoken0123456789abcdef";
const REPO = "acme/shop";

let world: TestWorld;
let gh: Awaited<ReturnType<typeof startFakeGithub>>;
let config: LoadedConfig;

beforeEach(async () => {
  world = await makeWorld();
  gh = await startFakeGithub({ token: TOKEN, repo: REPO });
  process.env.HYPERION_GITHUB_WEBHOOK_SECRET = SECRET;
  process.env.GITHUB_WEBHOOK_SECRET_OLD = OLD_SECRET;
  process.env.HYPERION_GITHUB_TOKEN = TOKEN;
  forgetEtags();
  config = {
    ...world.config,
    github: GithubConfig.parse({
      apiUrl: gh.apiUrl,
      previousWebhookSecretEnv: "GITHUB_WEBHOOK_SECRET_OLD",
      closeIssues: true,
    }),
    repositories: world.config.repositories.map((r) => ({ ...r, github: REPO })),
  };
});
afterEach(async () => {
  delete process.env.HYPERION_GITHUB_WEBHOOK_SECRET;
  delete process.env.GITHUB_WEBHOOK_SECRET_OLD;
  delete process.env.HYPERION_GITHUB_TOKEN;
  await gh.stop();
  await world.cleanup();
});

let deliveries = 0;
/** Sends a delivery as GitHub would: the body, its event, a fresh delivery id, signed. */
function deliver(
  event: string,
  payload: unknown,
  opts: { secret?: string; id?: string; headers?: Record<string, string | null> } = {},
) {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const id = opts.id ?? `d-${++deliveries}`;
  const headers: Record<string, string | null> = {
    ...signedHeaders(event, id, body, opts.secret ?? SECRET),
    ...opts.headers,
  };
  return receiveGithubWebhook(world.db, config, {
    header: (n) => headers[n.toLowerCase()] ?? null,
    body: Buffer.from(body),
  });
}

const stored = async () =>
  (await world.db.select({ n: count() }).from(githubDeliveries).limit(1))[0]?.n ?? 0;
const requestCount = async () =>
  (await world.db.select({ n: count() }).from(requests).limit(1))[0]?.n ?? 0;

const labeled = (issue: Awaited<ReturnType<typeof gh.addIssue>>) =>
  examplePayload("issues", "labeled", { repo: REPO, issue });

describe("the webhook", () => {
  it("refuses a missing or wrong signature with 401 and writes nothing", async () => {
    const issue = gh.addIssue({ title: "Add a cart badge", labels: ["hyperion"] });
    expect((await deliver("issues", labeled(issue), { secret: "wrong" })).status).toBe(401);
    const missing = await deliver("issues", labeled(issue), {
      headers: { "x-hub-signature-256": null },
    });
    expect(missing).toMatchObject({
      status: 401,
      body: { error: "X-Hub-Signature-256 is missing" },
    });
    expect(await stored()).toBe(0);
  });

  it("takes a delivery once however often it is redelivered, and the old secret while rotating", async () => {
    const issue = gh.addIssue({ title: "Add a cart badge", labels: ["hyperion"] });
    expect((await deliver("issues", labeled(issue), { id: "same" })).status).toBe(202);
    expect(
      await deliver("issues", labeled(issue), { id: "same", secret: OLD_SECRET }),
    ).toMatchObject({
      status: 200,
      body: { duplicate: "same" },
    });
    expect(await stored()).toBe(1);
    await handleDeliveries(world.db, config);
    await handleDeliveries(world.db, config);
    expect(await requestCount()).toBe(1);
  });

  it("answers an unknown event and an unmapped repository 2xx, ignored, storing nothing; a malformed body 400", async () => {
    expect((await deliver("star", { action: "created" })).status).toBe(202);
    const other = examplePayload("issues", "labeled", { repo: "someone/else" });
    const unmapped = await deliver("issues", other);
    expect(unmapped.status).toBe(202);
    expect(String(unmapped.body.ignored)).toContain("someone/else");
    expect((await deliver("issues", "{not json")).status).toBe(400);
    expect(
      (
        await deliver("issues", labeled(gh.addIssue({ title: "x" })), {
          headers: { "x-github-delivery": null },
        })
      ).status,
    ).toBe(400);
    expect(await stored()).toBe(0);
  });

  it("a body over the limit is not read past it (the route answers 413)", async () => {
    const big = new Request("http://x/api/webhooks/github", {
      method: "POST",
      body: "x".repeat(2048),
    });
    expect(await boundedBody(big, 1024)).toBeNull();
    const small = new Request("http://x/", { method: "POST", body: "ok" });
    expect(Buffer.from((await boundedBody(small, 1024)) ?? []).toString()).toBe("ok");
  });

  it("200 deliveries in a burst are each stored and handled once", async () => {
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        deliver("issues", labeled(gh.addIssue({ title: `Burst ${i}`, labels: ["hyperion"] }))),
      ),
    );
    expect(replies.every((r) => r.status === 202)).toBe(true);
    while ((await handleDeliveries(world.db, config)) > 0);
    expect(await requestCount()).toBe(200);
    const states = await world.db
      .select({ state: githubDeliveries.state, n: count() })
      .from(githubDeliveries)
      .groupBy(githubDeliveries.state);
    expect(states).toEqual([{ state: "handled", n: 200 }]);
  });
});

describe("issues become requests", () => {
  it("a labelled issue is a request: title, body, files from its fenced list, areas from area: labels; closing it cancels", async () => {
    const issue = gh.addIssue({
      title: "Show the cart total",
      body: "The cart needs a total.\n\n```files\nsrc/cart/cart.js\n```\n",
      labels: ["hyperion", "area:cart"],
    });
    await deliver("issues", labeled(issue));
    await handleDeliveries(world.db, config);
    const [r] = await world.db.select().from(requests).limit(1);
    expect(r).toMatchObject({
      title: "Show the cart total",
      source: "github",
      files: ["src/cart/cart.js"],
      areas: ["cart"],
    });
    expect(r?.description).toContain("The cart needs a total.");
    expect(r?.description).toContain(issue.html_url);
    // The request's page and its trace name the issue it came from.
    const page = await requestPage(world.db, r?.id ?? 0);
    expect(page?.detail.issue).toMatchObject({
      githubRepo: REPO,
      number: issue.number,
      url: issue.html_url,
    });
    expect(page?.trace.request?.issue?.url).toBe(issue.html_url);

    await deliver(
      "issues",
      examplePayload("issues", "closed", { repo: REPO, issue: { ...issue, state: "closed" } }),
    );
    await handleDeliveries(world.db, config);
    expect((await world.db.select().from(requests).limit(1))[0]?.status).toBe("cancelled");
  });

  it("an issue with hostile file paths or a 10 MB body files nothing, and its comment says why", async () => {
    const hostile = gh.addIssue({
      title: "Sneaky",
      body: "```files\n../../etc/passwd\n```",
      labels: ["hyperion"],
    });
    const huge = gh.addIssue({
      title: "Huge",
      body: "x".repeat(10 * 1024 * 1024),
      labels: ["hyperion"],
    });
    await deliver("issues", labeled(hostile));
    await deliver("issues", labeled(huge));
    await handleDeliveries(world.db, config);
    expect(await requestCount()).toBe(0);
    const rows = await world.db.select().from(githubIssues);
    expect(rows.map((r) => r.refusal)).toEqual([
      expect.stringContaining("files[0]"),
      expect.stringContaining("at most 20000"),
    ]);
    await syncComments(world.db, config, githubClient(config.github as never));
    expect(gh.commentsOn(hostile.number)[0]?.body).toContain("could not take this issue");
    expect(gh.commentsOn(huge.number)[0]?.body).toContain("at most 20000");
  });

  it("a label flood files at most one request, with areas only from known area: labels, or says which is unknown", async () => {
    // GitHub allows 100 labels on an issue: nearly all of them.
    const flood = Array.from({ length: 97 }, (_, i) => `label-${i}`);
    const issue = gh.addIssue({ title: "Flooded", labels: ["hyperion", ...flood, "area:nowhere"] });
    await deliver("issues", labeled(issue));
    await deliver("issues", labeled(issue));
    await handleDeliveries(world.db, config);
    const [row] = await world.db.select().from(githubIssues).limit(1);
    expect(await requestCount()).toBe(0);
    expect(row?.refusal ?? "").toContain("unknown area 'nowhere'");
  });

  it("/hyperion answer is taken from the issue's author, not from a stranger", async () => {
    const issue = gh.addIssue({ title: "Do the thing", labels: ["hyperion"], author: "alice" });
    await deliver("issues", labeled(issue));
    await handleDeliveries(world.db, config);
    const comment = (login: string, association: string) =>
      examplePayload("issue_comment", "created", {
        repo: REPO,
        issue,
        comment: {
          body: "/hyperion answer use the blue one",
          user: { login },
          author_association: association,
        },
      });
    await deliver("issue_comment", comment("mallory", "NONE"));
    await deliver("issue_comment", comment("alice", "NONE"));
    await handleDeliveries(world.db, config);
    const notes = (
      await world.db
        .select({ note: githubDeliveries.note })
        .from(githubDeliveries)
        .where(eq(githubDeliveries.event, "issue_comment"))
    ).map((d) => d.note);
    expect(notes[0]).toContain("mallory is neither the issue's author nor a member");
    expect(notes[1]).not.toContain("neither");
  });
});

describe("Projects v2", () => {
  it("an issue's project item moved to the configured status becomes a request, read through GraphQL", async () => {
    config = {
      ...config,
      github: { ...(config.github ?? GithubConfig.parse({})), projectStatus: "Ready for Hyperion" },
    };
    const issue = gh.addIssue({ title: "From the board", body: "```files\ndocs/board.md\n```" });
    const item = gh.projectItem(issue.number, "Todo");
    const moved = (status: string) => {
      gh.moveItem(item, status);
      const payload = examplePayload("projects_v2_item", "edited", { repo: REPO }) as Record<
        string,
        unknown
      >;
      payload.projects_v2_item = {
        ...(payload.projects_v2_item as object),
        node_id: item,
        content_type: "Issue",
      };
      delete payload.repository; // an organization's event
      return deliver("projects_v2_item", payload);
    };
    expect((await moved("In progress")).status).toBe(202);
    await handleDeliveries(world.db, config);
    expect(await requestCount()).toBe(0);
    expect(
      (await world.db.select({ note: githubDeliveries.note }).from(githubDeliveries).limit(1))[0]
        ?.note,
    ).toContain("not 'Ready for Hyperion'");
    await moved("Ready for Hyperion");
    await handleDeliveries(world.db, config);
    const [r] = await world.db.select().from(requests).limit(1);
    expect(r).toMatchObject({
      title: "From the board",
      files: ["docs/board.md"],
      source: "github",
    });
    // Moved there again: still one request.
    await moved("Ready for Hyperion");
    await handleDeliveries(world.db, config);
    expect(await requestCount()).toBe(1);
  });

  it("without github.projectStatus, project items are answered 202 and not stored", async () => {
    const reply = await deliver("projects_v2_item", { action: "edited", projects_v2_item: {} });
    expect(reply.status).toBe(202);
    expect(String(reply.body.ignored)).toContain("projectStatus");
    expect(await stored()).toBe(0);
  });
});

describe("reconciliation and the status comment", () => {
  it("picks up an issue whose delivery was lost, files nothing twice, costs one free 304 when idle, and cancels on a close it missed", async () => {
    const issue = gh.addIssue({ title: "Missed delivery", labels: ["hyperion"] });
    gh.addIssue({ title: "Not for us", labels: ["bug"] });
    const client = githubClient(config.github as never);
    expect(await reconcile(world.db, config, client)).toMatchObject({ filed: 1 });
    expect(await requestCount()).toBe(1);
    gh.calls.length = 0;
    expect(await reconcile(world.db, config, client)).toMatchObject({ filed: 0, calls: 1 });
    expect(gh.calls).toEqual([expect.stringContaining(`GET /repos/${REPO}/issues?`)]);
    expect(await requestCount()).toBe(1);
    issue.state = "closed";
    expect(await reconcile(world.db, config, client)).toMatchObject({ cancelled: 1 });
    expect((await world.db.select().from(requests).limit(1))[0]?.status).toBe("cancelled");
  });

  it("keeps one comment per issue, edited in place as the request moves, and never posts the token", async () => {
    const issue = gh.addIssue({ title: "Comment me", labels: ["hyperion"] });
    await deliver("issues", labeled(issue));
    await handleDeliveries(world.db, config);
    const client = githubClient(config.github as never);
    await syncComments(world.db, config, client);
    expect(gh.commentsOn(issue.number)).toHaveLength(1);
    expect(gh.commentsOn(issue.number)[0]?.body).toContain("Received");
    // Nothing changed: no call.
    gh.calls.length = 0;
    await syncComments(world.db, config, client);
    expect(gh.calls).toEqual([]);
    await world.db.update(requests).set({ status: "planned" });
    await syncComments(world.db, config, client);
    expect(gh.commentsOn(issue.number)).toHaveLength(1);
    expect(gh.commentsOn(issue.number)[0]?.body).toContain("Planned");
    await rawRun(world.db, sql`PRAGMA wal_checkpoint(TRUNCATE)`);
    expect(JSON.stringify(await world.db.select().from(githubIssues))).not.toContain(TOKEN);
  });
});
