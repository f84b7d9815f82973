import { z } from "zod";
import { ChangeRequest } from "./change-request";
import { HyperionConfig } from "./config";
import { TaskRequest } from "./task-request";

/** The contracts published as JSON Schema for tools outside TypeScript. */
export const published = {
  "task-request": TaskRequest,
  "hyperion-config": HyperionConfig,
  "change-request": ChangeRequest,
} as const;

export function jsonSchemaText(schema: z.ZodType): string {
  return `${JSON.stringify(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }), null, 2)}\n`;
}
