import { sessionUser } from "@/server/auth/session";
import { metricsReply } from "@/server/metrics/endpoint";
import { runtime } from "@/server/runtime";

export const dynamic = "force-dynamic";

/**
 * Prometheus metrics in the text exposition format (docs/operations.md, "Metrics"), for an
 * operator's or admin's bearer API token or signed-in session. Computed from the database at
 * each scrape, so every web host answers with the whole install's figures.
 */
export async function GET(req: Request): Promise<Response> {
  const reply = await metricsReply(runtime().db, req.headers.get("authorization"), sessionUser);
  return new Response(reply.body, {
    status: reply.status,
    headers: {
      "content-type": reply.contentType,
      "cache-control": "no-store",
      ...(reply.status === 401 ? { "www-authenticate": 'Bearer realm="hyperion"' } : {}),
    },
  });
}
