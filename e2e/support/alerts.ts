// The alert rule of the end-to-end config (e2e/prepare.ts) and what makes it fire: a worker
// host that beat long ago and never said it stopped, written straight into the database, as a
// worker on a machine that lost power leaves it. Its webhook goes to a receiver the test starts.
import http from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import { ALERT_PORT, E2E_DATA } from "./ports";

export const ALERT_RECEIVER_PORT = ALERT_PORT;
export const ALERT_SECRET = `whsec_${Buffer.from("e2e-alert-secret-0123456789abcdef").toString("base64")}`;

/** The rule: a worker not seen for ten minutes (the test's fake one beat an hour ago). */
export const alertsConfig = [
  {
    kind: "worker_silent",
    seconds: 600,
    webhooks: [
      {
        url: `http://127.0.0.1:${ALERT_RECEIVER_PORT}/hooks/hyperion`,
        secret: ALERT_SECRET,
        format: "standard",
      },
    ],
  },
];

function database() {
  const db = new Database(path.join(E2E_DATA, "hyperion.db"));
  db.pragma("busy_timeout = 10000");
  return db;
}

/** A worker that beat an hour ago and never stopped; `remove()` takes it away (the alert clears). */
export function silentWorker(id: string) {
  const db = database();
  try {
    const beatAt = Date.now() - 3_600_000;
    db.prepare(
      "INSERT INTO worker_heartbeats (id, pid, host, started_at, beat_at, role) VALUES (?, ?, ?, ?, ?, 'supervisor')",
    ).run(id, 4242, "lost-host", beatAt - 60_000, beatAt);
  } finally {
    db.close();
  }
  return {
    remove() {
      const db = database();
      try {
        db.prepare("DELETE FROM worker_heartbeats WHERE id = ?").run(id);
      } finally {
        db.close();
      }
    },
  };
}

export type Received = { headers: http.IncomingHttpHeaders; body: string };

/** A webhook receiver that answers 204 and keeps what it got. */
export async function alertReceiver() {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(ALERT_RECEIVER_PORT, "127.0.0.1", resolve));
  return {
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
