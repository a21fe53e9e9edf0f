/** Reading the unit files in systemd/ for tests: each section's keys with their values in order. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

export type UnitSection = Map<string, string[]>;
export type Unit = Map<string, UnitSection>;

/** A unit's sections, each key with its values in order (a key may be given more than once). */
export function parseUnit(text: string, name = "unit"): Unit {
  const sections: Unit = new Map();
  let current: UnitSection | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] as string, current);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(current && eq > 0, `${name}: not a unit line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** The text of a file in systemd/. */
export function unitText(name: string): string {
  return readFileSync(new URL(`../../systemd/${name}`, import.meta.url), "utf8");
}

/** A file in systemd/, parsed. */
export function readUnit(name: string): Unit {
  return parseUnit(unitText(name), name);
}
