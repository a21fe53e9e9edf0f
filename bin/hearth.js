#!/usr/bin/env node
// Entry point for the `hearth` command. A source checkout (src/ present and tsx installed) runs the
// TypeScript directly so that `npm ci && npm start` needs no build step; an installed copy runs the
// compiled dist/ produced by `npm run build`.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "main.ts");
const compiled = join(root, "dist", "main.js");

function tsxAvailable() {
  try {
    createRequire(import.meta.url).resolve("tsx/esm/api");
    return true;
  } catch {
    return false;
  }
}

if (existsSync(source) && tsxAvailable()) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  console.error(
    "hearth: neither dist/main.js nor a source checkout with tsx was found. Run `npm ci && npm run build`.",
  );
  process.exit(1);
}
