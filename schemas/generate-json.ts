import fs from "node:fs";
import path from "node:path";
import { jsonSchemaText, published } from "./json-schemas";

// Beside this file, wherever it is run from.
const dir = path.join(import.meta.dirname, "json");
fs.mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(published)) {
  const file = path.join(dir, `${name}.schema.json`);
  fs.writeFileSync(file, jsonSchemaText(schema));
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
