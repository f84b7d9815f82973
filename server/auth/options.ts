import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { authSecret, runtime } from "@/server/runtime";
import { verifyCredentials } from "./credentials";

export const LOCKED_MESSAGE = "Too many failed sign-ins for this email. Wait 15 minutes and retry.";

export function authOptions(): NextAuthOptions {
  const { env, db } = runtime();
  return {
    secret: authSecret(env),
    session: { strategy: "jwt", maxAge: 7 * 24 * 60 * 60 },
    pages: { signIn: "/signin" },
    callbacks: {
      // The user's id rides in the token's `sub`; expose it so the server can load the user.
      session: ({ session, token }) => ({ ...session, user: { ...session.user, id: token.sub } }),
    },
    providers: [
      CredentialsProvider({
        name: "Email and password",
        credentials: {
          email: { label: "Email", type: "email" },
          password: { label: "Password", type: "password" },
        },
        async authorize(credentials) {
          const email = credentials?.email?.trim() ?? "";
          const password = credentials?.password ?? "";
          if (!email || !password) return null;
          const result = await verifyCredentials(db, email, password);
          if (!result.ok && result.reason === "locked") throw new Error(LOCKED_MESSAGE);
          if (!result.ok) return null;
          return { id: String(result.user.id), email: result.user.email };
        },
      }),
    ],
  };
}
