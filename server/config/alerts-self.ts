import type { HyperionConfig } from "@/schemas/config";
import { currentEnv } from "@/server/env.mjs";

/** Where Hyperion itself answers: its public URL (NEXTAUTH_URL) and the HOST:PORT it listens on. */
export type SelfAddress = { url?: string; host: string; port: number };

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1", "0.0.0.0", "[::]", "::"]);

/** This process's own address, from its environment; none when the environment is unusable. */
export function selfAddress(): SelfAddress | null {
  try {
    const env = currentEnv();
    return {
      ...(env.NEXTAUTH_URL ? { url: env.NEXTAUTH_URL } : {}),
      host: env.HOST,
      port: env.PORT,
    };
  } catch {
    return null;
  }
}

function hostPort(u: URL): { host: string; port: number } {
  const port = u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
  return { host: u.hostname.toLowerCase(), port };
}

/** Whether `url` reaches Hyperion itself: a webhook there would alert Hyperion about itself. */
export function pointsAtSelf(url: string, self: SelfAddress): boolean {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return false;
  }
  const t = hostPort(target);
  if (self.url) {
    try {
      const s = hostPort(new URL(self.url));
      if (s.host === t.host && s.port === t.port) return true;
    } catch {
      // NEXTAUTH_URL is checked where the environment is read.
    }
  }
  const listen = self.host.toLowerCase();
  if (t.port !== self.port) return false;
  if (t.host === listen || t.host === `[${listen}]`) return true;
  // Listening on every interface or on loopback: any loopback name reaches it.
  const wide = listen === "0.0.0.0" || listen === "::";
  return LOOPBACK.has(t.host) && (wide || LOOPBACK.has(listen));
}

/** `alerts[0].webhooks[1].url: …` for each webhook that points at Hyperion itself. */
export function selfWebhookProblems(config: Pick<HyperionConfig, "alerts">, self: SelfAddress) {
  const out: { path: string; message: string }[] = [];
  config.alerts?.forEach((rule, i) => {
    rule.webhooks.forEach((w, j) => {
      if (pointsAtSelf(w.url, self))
        out.push({
          path: `alerts[${i}].webhooks[${j}].url`,
          message: `points at Hyperion itself (${self.url ?? `${self.host}:${self.port}`}): name the receiver that should hear of the alert`,
        });
    });
  });
  return out;
}
