/** The demo repository's files: small, real, and spread over src, tests and docs areas. */
export const demoFiles: Record<string, string> = {
  "README.md": `# Demo shop

A tiny TypeScript library that Hyperion's agents can change. File requests against it from
the browser or with \`hyperion request\`.

- \`src/\`: the library
- \`tests/\`: its tests
- \`docs/\`: the user guide
`,
  "package.json": `${JSON.stringify(
    {
      name: "demo-shop",
      version: "1.0.0",
      private: true,
      type: "module",
      scripts: { test: "node --test tests/" },
    },
    null,
    2,
  )}\n`,
  "src/cart/cart.js": `/** A shopping cart: items with a price in cents and a quantity. */
export function createCart() {
  return { items: [] };
}

export function addItem(cart, item) {
  const existing = cart.items.find((i) => i.sku === item.sku);
  if (existing) existing.quantity += item.quantity;
  else cart.items.push({ ...item });
  return cart;
}

export function total(cart) {
  return cart.items.reduce((sum, i) => sum + i.priceCents * i.quantity, 0);
}
`,
  "src/pricing/pricing.js": `/** Discounts apply to a cart total in cents. */
export function applyDiscount(totalCents, percent) {
  if (percent < 0 || percent > 100) throw new RangeError("percent must be 0-100");
  return Math.round(totalCents * (1 - percent / 100));
}

export function formatPrice(cents, currency = "EUR") {
  return new Intl.NumberFormat("en", { style: "currency", currency }).format(cents / 100);
}
`,
  "tests/cart.test.js": `import assert from "node:assert/strict";
import { test } from "node:test";
import { addItem, createCart, total } from "../src/cart/cart.js";

test("a cart totals its items", () => {
  const cart = createCart();
  addItem(cart, { sku: "tea", priceCents: 450, quantity: 2 });
  addItem(cart, { sku: "tea", priceCents: 450, quantity: 1 });
  assert.equal(total(cart), 1350);
});
`,
  "tests/pricing.test.js": `import assert from "node:assert/strict";
import { test } from "node:test";
import { applyDiscount } from "../src/pricing/pricing.js";

test("a discount lowers the total", () => {
  assert.equal(applyDiscount(1000, 10), 900);
});
`,
  "docs/guide.md": `# User guide

## Carts

Create a cart, add items, read the total in cents.

## Discounts

\`applyDiscount(total, percent)\` takes a percentage from 0 to 100.
`,
  ".github/workflows/ci.yml": `name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: npm test
`,
};
