/**
 * Command ids: unique, protocol-sized, URL-safe, and in the order they were made, so the command log's
 * primary key grows at its end.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LIMITS } from "../../src/devices/protocol.ts";
import { newOrderedId } from "../../src/security/secrets.ts";

test("ordered ids sort by their time, then stay unique within one millisecond", () => {
  const times = [0, 1, 255, 256, 65_535, 1_700_000_000_000, 1_795_912_000_000, 1_795_912_000_001, 2 ** 48 - 1];
  const ids = times.map((t) => newOrderedId(t));
  assert.deepEqual([...ids].sort(), ids, "string order is time order");
  for (const id of ids) {
    assert.match(id, /^[A-Za-z0-9_-]{16}$/);
    assert.ok(id.length <= LIMITS.commandIdChars);
  }
  const sameMillisecond = new Set(Array.from({ length: 10_000 }, () => newOrderedId(1_795_912_000_000)));
  assert.equal(sameMillisecond.size, 10_000);
});
