import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { authSecret, runtime } from "@/server/runtime";
import { safeCallbackPath } from "./callback-url";
import { clientAddress } from "./client-address";
import { verifyCredentials } from "./credentials";
import { BUSY_MESSAGE, LOCKED_MESSAGE, PASSWORD_TOO_LONG_MESSAGE } from "./sign-in-messages";

export { LOCKED_MESSAGE } from "./sign-in-messages";

export function authOptions(): NextAuthOptions {
  const { env, db } = runtime();
  const trustProxy = env.HYPERION_TRUST_PROXY === "1";
  return {
    secret: authSecret(env),
    session: { strategy: "jwt", maxAge: 7 * 24 * 60 * 60 },
    pages: { signIn: "/signin" },
    callbacks: {
      // The user's id rides in the token's `sub`; expose it so the server can load the user.
      session: ({ session, token }) => ({ ...session, user: { ...session.user, id: token.sub } }),
      redirect: ({ url, baseUrl }) => new URL(safeCallbackPath(url, baseUrl), baseUrl).href,
    },
    providers: [
      CredentialsProvider({
        name: "Email and password",
        credentials: {
          email: { label: "Email", type: "email" },
          password: { label: "Password", type: "password" },
        },
        async authorize(credentials, req) {
          const email = credentials?.email ?? "";
          const password = credentials?.password ?? "";
          const address = clientAddress(req?.headers, { trustProxy });
          const result = await verifyCredentials(db, email, password, { address });
          if (result.ok) return { id: String(result.user.id), email: result.user.email };
          if (result.reason === "locked")
            throw new Error(result.retryAfterMs === undefined ? LOCKED_MESSAGE : BUSY_MESSAGE);
          if (result.reason === "too_long") throw new Error(PASSWORD_TOO_LONG_MESSAGE);
          return null;
        },
      }),
    ],
  };
}
