import { Role, roles } from "@/schemas/roles";
import { ValidationError } from "@/server/errors";
import {
  addUser,
  listUsers,
  requireUserByEmail,
  resetPassword,
  setDisabled,
  setRole,
} from "@/server/users/service";
import { createToken, listTokens, revokeToken } from "@/server/users/tokens";
import { withCliDb } from "../context";
import { CliError, printTable } from "../io";

export function userAddCommand(email: string, opts: { role: string; name?: string }) {
  const role = Role.safeParse(opts.role);
  if (!role.success) throw new CliError(`--role must be one of: ${roles.join(", ")}`, 2);
  return withCliDb(async (db, env) => {
    // A password on the command line would land in shell history; take it from the environment.
    const password = env.HYPERION_NEW_PASSWORD;
    const created = await addUser(db, { email, name: opts.name, role: role.data, password }).catch(
      (err) => {
        // The password came from the environment: name the variable, not the field.
        if (!(err instanceof ValidationError)) throw err;
        const issues = err.issues.map((i) =>
          i.path === "password" ? { ...i, path: "HYPERION_NEW_PASSWORD" } : i,
        );
        throw new CliError("invalid input", 1, issues);
      },
    );
    console.log(`added ${created.user.email} (${created.user.role})`);
    if (created.generated) console.log(`password: ${created.password}  (shown once; keep it)`);
  });
}

export function userListCommand(opts: { json?: boolean }) {
  return withCliDb(async (db) => {
    const users = (await listUsers(db)).map((u) => ({
      ...u,
      createdAt: new Date(u.createdAt).toISOString(),
      state: u.disabledAt ? "disabled" : "active",
    }));
    if (opts.json) console.log(JSON.stringify(users, null, 2));
    else printTable(users, ["id", "email", "name", "role", "state", "createdAt"]);
  });
}

/** `hyperion user set-role <email> <role>`: applies to the user's next page or call. */
export function userSetRoleCommand(email: string, role: string) {
  return withCliDb(async (db) => {
    const user = await setRole(db, email, role);
    console.log(`${user.email} is now ${user.role}`);
  });
}

/** `hyperion user reset-password <email>`: a new password, generated and shown once (or HYPERION_NEW_PASSWORD). */
export function userResetPasswordCommand(email: string) {
  return withCliDb(async (db, env) => {
    const res = await resetPassword(db, email, env.HYPERION_NEW_PASSWORD).catch((err) => {
      if (!(err instanceof ValidationError)) throw err;
      throw new CliError(
        "invalid input",
        1,
        err.issues.map((i) =>
          i.path === "password" ? { ...i, path: "HYPERION_NEW_PASSWORD" } : i,
        ),
      );
    });
    console.log(`password of ${res.user.email} reset; the old one no longer works`);
    if (res.generated) console.log(`password: ${res.password}  (shown once; keep it)`);
  });
}

/** `hyperion user disable|enable <email>`. */
export function userDisableCommand(email: string) {
  return withCliDb(async (db) => {
    const res = await setDisabled(db, email, true);
    console.log(
      `${res.user.email} disabled: no sign-in, sessions ended, ${res.tokensRevoked} token(s) revoked`,
    );
  });
}

export function userEnableCommand(email: string) {
  return withCliDb(async (db) => {
    const res = await setDisabled(db, email, false);
    console.log(`${res.user.email} enabled (tokens revoked while disabled stay revoked)`);
  });
}

export function tokenCreateCommand(opts: { user: string; name?: string }) {
  return withCliDb(async (db) => {
    const user = await requireUserByEmail(db, opts.user);
    const { token, id } = await createToken(db, user, opts.name ?? "cli");
    console.log(`token ${id} for ${user.email} (${user.role}):`);
    console.log(token);
    console.log("Send it as 'Authorization: Bearer <token>'. It is shown once and stored hashed.");
  });
}

export function tokenListCommand() {
  return withCliDb(async (db) => {
    const rows = (await listTokens(db)).map((t) => ({
      ...t,
      createdAt: new Date(t.createdAt).toISOString(),
      state: t.revokedAt ? "revoked" : "active",
    }));
    printTable(rows, ["id", "name", "prefix", "email", "createdAt", "state"]);
  });
}

export function tokenRevokeCommand(id: string) {
  return withCliDb(async (db) => {
    if (!/^\d+$/.test(id)) throw new CliError("token id must be a number", 2);
    if (!(await revokeToken(db, Number(id)))) throw new CliError(`no active token ${id}`);
    console.log(`token ${id} revoked`);
  });
}
