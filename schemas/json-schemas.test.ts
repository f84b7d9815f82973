import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { jsonSchemaText, published } from "./json-schemas";

describe("published JSON Schemas", () => {
  it.each(Object.entries(published))(
    "schemas/json/%s.schema.json is up to date",
    (name, schema) => {
      const file = path.join(import.meta.dirname, "json", `${name}.schema.json`);
      const onDisk = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
      // Run `npm run schemas:json` when this fails.
      expect(onDisk).toBe(jsonSchemaText(schema));
    },
  );
});
