import { z } from "zod";

export const roles = ["requester", "reviewer", "operator", "admin"] as const;
export const Role = z.enum(roles);
export type Role = z.infer<typeof Role>;
