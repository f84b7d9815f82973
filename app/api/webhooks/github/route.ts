import { currentConfig } from "@/server/config/load";
import { receiveGithubWebhook } from "@/server/github/receive";
import { runtime } from "@/server/runtime";
import { boundedBody } from "../../bounded-body";

export const dynamic = "force-dynamic";

/**
 * GitHub's webhook deliveries (docs/github.md). Authenticated by the HMAC signature, not a
 * session: the delivery is verified, stored and answered at once; the worker acts on it.
 */
export async function POST(req: Request): Promise<Response> {
  const { db, env } = runtime();
  const limit = env.HYPERION_MAX_BODY_BYTES;
  const body = await boundedBody(req, limit);
  if (body === null)
    return Response.json(
      { error: `the body is larger than ${limit} bytes (HYPERION_MAX_BODY_BYTES)` },
      { status: 413 },
    );
  const reply = await receiveGithubWebhook(db, currentConfig(env.configPath), {
    header: (name) => req.headers.get(name),
    body: Buffer.from(body),
  });
  return Response.json(reply.body, { status: reply.status });
}
