import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDemoRepo } from "@/server/demo/create";
import { tempDir } from "@/test-support/fixtures";
import { ConfigError, loadConfig } from "./load";

// Alert rules in the config (docs/alerts.md): what is refused, with the path of the field.

const SECRET = `whsec_${Buffer.from("0123456789abcdef0123456789abcdef").toString("base64")}`;
const SELF = { url: "https://hyperion.example.test", host: "127.0.0.1", port: 3000 };
let dir: string;

beforeAll(async () => {
  dir = tempDir();
  await createDemoRepo(path.join(dir, "repo"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function load(alerts: unknown) {
  const file = path.join(dir, "hyperion.config.json");
  fs.writeFileSync(
    file,
    JSON.stringify({ repositories: [{ name: "demo", path: "repo" }], alerts }),
  );
  return loadConfig(file, SELF);
}

function refusal(alerts: unknown): string {
  try {
    load(alerts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("the config was accepted");
}

const hook = (extra: Record<string, unknown> = {}) => ({
  url: "https://hooks.example.test/hyperion",
  secret: SECRET,
  ...extra,
});

describe("alert rules in the config", () => {
  it("accepts every kind, with its threshold", () => {
    const config = load([
      { kind: "entry_quarantined", repositories: ["demo"], webhooks: [hook()] },
      { kind: "verification_red" },
      { kind: "worker_silent", seconds: 90 },
      { kind: "queue_stalled", minutes: 30 },
      { kind: "approval_waiting", hours: 4 },
      {
        kind: "remote_unreachable",
        webhooks: [{ url: "https://hooks.slack.test/services/T/B/x", format: "slack" }],
      },
    ]);
    expect(config.alerts).toHaveLength(6);
    expect(config.alerts?.[0]?.webhooks[0]?.format).toBe("standard");
  });

  it.each([
    [[{ kind: "entry_quarantined", level: "high" }], "alerts[0].level: is not a known field"],
    [
      [{ kind: "entry_quarantined", webhooks: [hook({ retries: 3 })] }],
      "alerts[0].webhooks[0].retries: is not a known field",
    ],
    [[{ kind: "disk_full" }], "alerts[0].kind: must be one of"],
    [[{ kind: "worker_silent" }], "alerts[0].seconds:"],
    [[{ kind: "worker_silent", seconds: 5 }], "alerts[0].seconds: must be at least 10"],
    [[{ kind: "queue_stalled", minutes: 20_000 }], "alerts[0].minutes: must be at most 10080"],
    [[{ kind: "approval_waiting", hours: 1.5 }], "alerts[0].hours: must be a whole number"],
    [
      [{ kind: "entry_quarantined", webhooks: [hook({ url: "ftp://hooks.example.test/x" })] }],
      "alerts[0].webhooks[0].url: must be an http(s) URL",
    ],
    [
      [{ kind: "entry_quarantined", webhooks: [hook({ url: "not a url" })] }],
      "alerts[0].webhooks[0].url: must be an http(s) URL",
    ],
    [
      [{ kind: "entry_quarantined", webhooks: [hook({ secret: undefined })] }],
      "alerts[0].webhooks[0].secret: is required for the standard format",
    ],
    [
      [{ kind: "entry_quarantined", webhooks: [hook({ secret: "hunter2" })] }],
      "alerts[0].webhooks[0].secret: must be 'whsec_'",
    ],
    [
      [{ kind: "entry_quarantined", webhooks: [hook({ secret: "whsec_c2hvcnQ=" })] }],
      "alerts[0].webhooks[0].secret: must hold 24 to 64 bytes",
    ],
    [
      [{ kind: "entry_quarantined", webhooks: [hook({ format: "teams" })] }],
      'alerts[0].webhooks[0].format: must be "standard" or "slack"',
    ],
    [
      [{ kind: "entry_quarantined", repositories: ["shop"] }],
      "alerts[0].repositories[0]: 'shop' is not a repository of this config",
    ],
    [
      [{ kind: "worker_silent", seconds: 60, repositories: ["demo"] }],
      "alerts[0].repositories: is not a known field",
    ],
    [
      [
        { kind: "verification_red" },
        {
          kind: "entry_quarantined",
          webhooks: [hook({ url: "https://hyperion.example.test/api/hooks" })],
        },
      ],
      "alerts[1].webhooks[0].url: points at Hyperion itself",
    ],
    [
      [{ kind: "entry_quarantined", webhooks: [hook({ url: "http://localhost:3000/x" })] }],
      "alerts[0].webhooks[0].url: points at Hyperion itself",
    ],
  ])("refuses %j, naming the field", (alerts, message) => {
    const text = refusal(alerts);
    expect(text).toContain(message);
    // The secret is never repeated in a message.
    expect(text).not.toContain(SECRET);
  });

  it("a receiver on another port of the same machine is not Hyperion", () => {
    expect(
      load([{ kind: "verification_red", webhooks: [hook({ url: "http://127.0.0.1:9000/x" })] }])
        .alerts,
    ).toHaveLength(1);
  });
});
