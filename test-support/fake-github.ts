import { createHash, createHmac } from "node:crypto";
import http from "node:http";
import type net from "node:net";
import examples from "@octokit/webhooks-examples";

// GitHub for tests, where the real one cannot be reached: the few REST endpoints Hyperion calls,
// written from GitHub's REST documentation (issues, issue comments; ETags and 304 on lists;
// 401 without the token), and webhook deliveries made from GitHub's own example payloads
// (@octokit/webhooks-examples), signed as GitHub signs them (X-Hub-Signature-256: sha256=HMAC).

type Issue = {
  number: number;
  title: string;
  body: string;
  state: "open" | "closed";
  labels: { name: string }[];
  user: { login: string };
  html_url: string;
};
type Pull = {
  number: number;
  title: string;
  body: string;
  state: "open" | "closed";
  merged: boolean;
  merge_commit_sha: string | null;
  html_url: string;
  head: { ref: string };
  base: { ref: string };
};
type Comment = { id: number; issue: number; body: string; user: { login: string } };

export async function startFakeGithub(opts: { token: string; repo: string; port?: number }) {
  const issues = new Map<number, Issue>();
  const comments = new Map<number, Comment>();
  const pulls = new Map<number, Pull>();
  // Projects v2 items: node id → the issue it holds and its Status.
  const items = new Map<string, { issue: number; status: string }>();
  const calls: string[] = [];
  let nextIssue = 1;
  let nextComment = 1000;
  const [owner, name] = opts.repo.split("/");
  const base = `/repos/${owner}/${name}`;

  const send = (res: http.ServerResponse, status: number, body?: unknown, headers = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(body === undefined ? "" : JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      // The test's own door (not GitHub's API): add an issue, read an issue's comments.
      if (url.pathname === "/_fake/issues" && req.method === "POST") {
        const input = JSON.parse(Buffer.concat(chunks).toString() || "{}");
        return send(res, 201, addIssue(input));
      }
      const fakeComments = /^\/_fake\/issues\/(\d+)\/comments$/.exec(url.pathname);
      if (fakeComments) return send(res, 200, commentsOn(Number(fakeComments[1])));
      calls.push(`${req.method} ${url.pathname}${url.search}`);
      const auth = req.headers.authorization ?? "";
      if (auth !== `token ${opts.token}` && auth !== `Bearer ${opts.token}`)
        return send(res, 401, { message: "Bad credentials" });
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      const path = url.pathname;
      if (req.method === "GET" && path === `${base}/issues`) {
        const label = url.searchParams.get("labels");
        const state = url.searchParams.get("state") ?? "open";
        const list = [...issues.values()].filter(
          (i) =>
            (state === "all" || i.state === state) &&
            (!label || i.labels.some((l) => l.name === label)),
        );
        const etag = `"${createHash("sha1").update(JSON.stringify(list)).digest("hex")}"`;
        if (req.headers["if-none-match"] === etag) return send(res, 304, undefined, { etag });
        return send(res, 200, list, { etag });
      }
      const one = new RegExp(`^${base}/issues/(\\d+)$`).exec(path);
      if (one) {
        const issue = issues.get(Number(one[1]));
        if (!issue) return send(res, 404, { message: "Not Found" });
        if (req.method === "GET") return send(res, 200, issue);
        if (req.method === "PATCH") {
          if (body.state) issue.state = body.state;
          return send(res, 200, issue);
        }
      }
      // GraphQL: the one query Hyperion sends, a project item's Status and issue by node id.
      if (path === "/graphql" && req.method === "POST") {
        const item = items.get(String(body.variables?.id ?? ""));
        const issue = item ? issues.get(item.issue) : undefined;
        return send(res, 200, {
          data: {
            node: item
              ? {
                  fieldValueByName: { name: item.status },
                  content: issue && {
                    number: issue.number,
                    title: issue.title,
                    body: issue.body,
                    url: issue.html_url,
                    state: issue.state.toUpperCase(),
                    author: { login: issue.user.login },
                    repository: { nameWithOwner: opts.repo },
                    labels: { nodes: issue.labels },
                  },
                }
              : null,
          },
        });
      }
      if (path === `${base}/pulls` && req.method === "GET") {
        const head = url.searchParams.get("head")?.split(":")[1];
        const state = url.searchParams.get("state") ?? "open";
        return send(
          res,
          200,
          [...pulls.values()].filter(
            (p) => (!head || p.head.ref === head) && (state === "all" || p.state === state),
          ),
        );
      }
      if (path === `${base}/pulls` && req.method === "POST") {
        const n = nextIssue++;
        const pull: Pull = {
          number: n,
          title: body.title,
          body: body.body ?? "",
          state: "open",
          merged: false,
          merge_commit_sha: null,
          html_url: `https://github.com/${opts.repo}/pull/${n}`,
          head: { ref: body.head },
          base: { ref: body.base },
        };
        pulls.set(n, pull);
        return send(res, 201, pull);
      }
      const pull = new RegExp(`^${base}/pulls/(\\d+)$`).exec(path);
      if (pull && req.method === "GET") {
        const p = pulls.get(Number(pull[1]));
        return p ? send(res, 200, p) : send(res, 404, { message: "Not Found" });
      }
      const post = new RegExp(`^${base}/issues/(\\d+)/comments$`).exec(path);
      if (post && req.method === "POST") {
        const c = {
          id: nextComment++,
          issue: Number(post[1]),
          body: body.body,
          user: { login: "hyperion[bot]" },
        };
        comments.set(c.id, c);
        return send(res, 201, c);
      }
      const edit = new RegExp(`^${base}/issues/comments/(\\d+)$`).exec(path);
      if (edit && req.method === "PATCH") {
        const c = comments.get(Number(edit[1]));
        if (!c) return send(res, 404, { message: "Not Found" });
        c.body = body.body;
        return send(res, 200, c);
      }
      return send(res, 404, { message: "Not Found" });
    });
  });
  function addIssue(i: {
    title: string;
    body?: string;
    labels?: string[];
    author?: string;
  }): Issue {
    const n = nextIssue++;
    const issue: Issue = {
      number: n,
      title: i.title,
      body: i.body ?? "",
      state: "open",
      labels: (i.labels ?? []).map((name) => ({ name })),
      user: { login: i.author ?? "octocat" },
      html_url: `https://github.com/${opts.repo}/issues/${n}`,
    };
    issues.set(n, issue);
    return issue;
  }
  const commentsOn = (n: number) => [...comments.values()].filter((c) => c.issue === n);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    apiUrl: `http://127.0.0.1:${port}`,
    issues,
    comments,
    calls,
    addIssue,
    commentsOn,
    pulls,
    /** Puts an issue on a project board in a Status; returns the item's node id. */
    projectItem(issue: number, status: string): string {
      const id = `PVTI_fake${items.size + 1}`;
      items.set(id, { issue, status });
      return id;
    },
    moveItem(id: string, status: string) {
      const item = items.get(id);
      if (item) item.status = status;
    },
    /** The forge merges a pull request (the test moved the branch itself) or closes it. */
    mergePull(n: number, sha: string) {
      const p = pulls.get(n);
      if (p) Object.assign(p, { state: "closed", merged: true, merge_commit_sha: sha });
    },
    closePull(n: number) {
      const p = pulls.get(n);
      if (p) p.state = "closed";
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** GitHub's own example payload for an event and action, made about this repository and issue. */
export function examplePayload(
  event: "issues" | "issue_comment" | "push" | "projects_v2_item",
  action: string | null,
  patch: { repo: string; issue?: object; comment?: object; ref?: string },
): Record<string, unknown> {
  const kind = examples.find((e) => e.name === event);
  // The example of this action; for one GitHub's examples lack (issues.closed), another
  // example of the event with its action set.
  const example =
    kind?.examples.find((x) => (action ? (x as { action?: string }).action === action : true)) ??
    kind?.examples[0];
  if (!example) throw new Error(`no example of ${event}`);
  const copy = structuredClone(example) as unknown as Record<string, unknown> & {
    repository: Record<string, unknown>;
    issue?: Record<string, unknown>;
    comment?: Record<string, unknown>;
  };
  const [owner, name] = patch.repo.split("/");
  copy.repository = { ...copy.repository, full_name: patch.repo, name, owner: { login: owner } };
  if (patch.issue) copy.issue = { ...copy.issue, ...patch.issue };
  if (patch.comment) copy.comment = { ...copy.comment, ...patch.comment };
  if (patch.ref) copy.ref = patch.ref;
  if (action) copy.action = action;
  return copy;
}

/** The headers GitHub sends with a delivery of this body, signed with the secret. */
export function signedHeaders(event: string, delivery: string, body: string, secret: string) {
  return {
    "x-github-event": event,
    "x-github-delivery": delivery,
    "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
    "content-type": "application/json",
  };
}
