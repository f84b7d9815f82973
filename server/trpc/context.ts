import { sessionUser } from "@/server/auth/session";
import { runtime } from "@/server/runtime";
import { userForToken } from "@/server/users/tokens";
import type { Context } from "./init";

/** Who is asking: a bearer token for scripts, otherwise the browser's session cookie. */
export async function createContext(req: Request): Promise<Context> {
  const { db, env } = runtime();
  const auth = req.headers.get("authorization");
  let user: Context["user"];
  if (auth) {
    const match = /^Bearer\s+(\S+)$/i.exec(auth);
    user = match?.[1] ? ((await userForToken(db, match[1])) ?? null) : null;
  } else {
    user = await sessionUser();
  }
  return { db, env, user, crossOrigin: isCrossOrigin(req), via: auth ? "token" : "session" };
}

export function isCrossOrigin(req: Request): boolean {
  if (req.headers.get("sec-fetch-site") === "cross-site") return true;
  const origin = req.headers.get("origin");
  if (!origin) return false;
  const host = req.headers.get("x-forwarded-host") ?? req.headers.get("host");
  try {
    return new URL(origin).host !== host;
  } catch {
    return true;
  }
}
