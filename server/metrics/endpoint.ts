import { can } from "@/server/auth/permissions";
import type { Db } from "@/server/db/client";
import type { User } from "@/server/users/service";
import { userForToken } from "@/server/users/tokens";
import { collectMetrics } from "./collect";

export type MetricsReply = { status: number; contentType: string; body: string };

const text = (status: number, body: string): MetricsReply => ({
  status,
  contentType: "text/plain; charset=utf-8",
  body: `${body}\n`,
});

/**
 * GET /api/metrics (app/api/metrics/route.ts is this and nothing else): who asks, then the
 * metrics. A bearer API token (`hyperion token create --user <email>`) of an operator or an
 * admin, as a Prometheus server sends it; without a token, a signed-in operator's or admin's
 * session (`session`, read only when no Authorization header came).
 */
export async function metricsReply(
  db: Db,
  authorization: string | null,
  session: () => Promise<User | null>,
  now = Date.now(),
): Promise<MetricsReply> {
  let user: User | null;
  if (authorization) {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
    if (!token)
      return text(
        401,
        "Authorization: expected `Bearer <token>` with an API token (hyperion token create --user <email>).",
      );
    user = (await userForToken(db, token)) ?? null;
    if (!user)
      return text(
        401,
        "Authorization: this API token is unknown, revoked, or its user is disabled. Create one with `hyperion token create --user <email>`.",
      );
  } else {
    user = await session();
    if (!user)
      return text(
        401,
        "Metrics need an operator's or admin's API token: send `Authorization: Bearer <token>` (hyperion token create --user <email>).",
      );
  }
  if (!can(user.role, "metrics.read"))
    return text(
      403,
      `Metrics are for operators and admins; ${user.email} is a ${user.role}. Use a token of an operator or admin.`,
    );
  const { text: body, contentType } = await collectMetrics(db, now);
  return { status: 200, contentType, body };
}
