import { redirect } from "next/navigation";
import { getServerSession } from "next-auth";
import { runtime } from "@/server/runtime";
import { getUser, type User } from "@/server/users/service";
import { safeCallbackPath } from "./callback-url";
import { authOptions } from "./options";

/**
 * The signed-in user, read fresh from the database so that a changed role or a removed user
 * takes effect at once rather than when the session cookie expires.
 */
export async function sessionUser(): Promise<User | null> {
  const session = await getServerSession(authOptions());
  const id = Number((session?.user as { id?: string } | undefined)?.id);
  if (!Number.isInteger(id)) return null;
  return (await getUser(runtime().db, id)) ?? null;
}

/** For pages: the user, or a redirect to sign-in that comes back here afterwards. */
export async function requirePageUser(returnTo: string): Promise<User> {
  const user = await sessionUser();
  if (!user) redirect(`/signin?callbackUrl=${encodeURIComponent(safeCallbackPath(returnTo))}`);
  return user;
}
