import { runtime } from "@/server/runtime";
import type { User } from "@/server/users/service";
import { createCallerFactory } from "./init";
import { appRouter } from "./root";

/**
 * The API as a server-rendered page calls it for the signed-in `user`: the same procedures, role
 * checks and services as the browser's requests, without a round trip.
 */
export function pageCaller(user: User) {
  const { db, env } = runtime();
  return createCallerFactory(appRouter)({ db, env, user, crossOrigin: false, via: "session" });
}
