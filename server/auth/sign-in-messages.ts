import { PASSWORD_MAX } from "@/server/users/limits";

// What authorize() throws reaches the form as its error text, so these are written for people.
export const LOCKED_MESSAGE =
  "Too many failed sign-ins from your address. Wait 15 minutes and retry.";
export const BUSY_MESSAGE =
  "Too many sign-in attempts on this account right now. Wait a minute and retry.";
export const PASSWORD_TOO_LONG_MESSAGE = `Passwords are at most ${PASSWORD_MAX} characters.`;

/** The only error texts the sign-in page shows; anything else in its URL is not repeated. */
export const signInMessages: Record<string, string> = {
  CredentialsSignin: "Wrong email or password.",
  SessionRequired: "Sign in to see that page.",
  [LOCKED_MESSAGE]: LOCKED_MESSAGE,
  [BUSY_MESSAGE]: BUSY_MESSAGE,
  [PASSWORD_TOO_LONG_MESSAGE]: PASSWORD_TOO_LONG_MESSAGE,
};

export const GENERIC_SIGN_IN_ERROR = "Sign-in failed; try again.";
