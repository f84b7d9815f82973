import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";

// bcryptjs: pure JS, so nothing to compile on a fresh machine and nothing for the Next bundle
// to trip over; cost 12 keeps a hash around a quarter second on this hardware.
const COST = process.env.NODE_ENV === "test" || process.env.VITEST ? 4 : 12;

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, COST);
}

export function checkPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash);
}

export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}

export const PASSWORD_MIN = 8;
