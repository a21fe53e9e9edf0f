/**
 * The scene table on a real SQLite file: insert or replace by id with the creation time kept, a listing
 * sorted by name, removal, and scenes that are still there when the file is opened again.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Store } from "../../src/store/index.ts";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "hearth-scenes-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const reading = {
  id: "reading",
  name: "Reading",
  actions: [{ device: "living-1.light", params: { on: true, brightness: 90 } }],
};
const away = {
  id: "away",
  name: "Away",
  actions: [{ device: "hall-1.lock", op: "set" as const, params: { locked: true } }],
};

test("put inserts, then replaces the scene with the same id and keeps when it was created", () => {
  const store = Store.open(join(dir, "put"));
  try {
    assert.equal(store.scenes.put(reading, 1000), false, "it did not exist");
    assert.deepEqual(store.scenes.get("reading"), { ...reading, createdAt: 1000, updatedAt: 1000 });

    const dimmer = {
      ...reading,
      name: "Reading (dim)",
      actions: [{ device: "living-1.light", params: { brightness: 30 } }],
    };
    assert.equal(store.scenes.put(dimmer, 2000), true, "it existed");
    assert.deepEqual(store.scenes.get("reading"), { ...dimmer, createdAt: 1000, updatedAt: 2000 });
    assert.equal(store.scenes.list().length, 1);
  } finally {
    store.close();
  }
});

test("list is sorted by name; remove says whether there was a scene to remove", () => {
  const store = Store.open(join(dir, "list"));
  try {
    store.scenes.put(reading, 1000);
    store.scenes.put(away, 1000);
    assert.deepEqual(
      store.scenes.list().map((scene) => scene.id),
      ["away", "reading"],
    );
    assert.equal(store.scenes.remove("away"), true);
    assert.equal(store.scenes.remove("away"), false);
    assert.equal(store.scenes.get("away"), undefined);
    assert.deepEqual(
      store.scenes.list().map((scene) => scene.id),
      ["reading"],
    );
  } finally {
    store.close();
  }
});

test("scenes are still there when the database is opened again", () => {
  const path = join(dir, "reopen");
  const first = Store.open(path);
  first.scenes.put(away, 1000);
  first.close();
  const second = Store.open(path);
  try {
    assert.deepEqual(second.scenes.get("away"), { ...away, createdAt: 1000, updatedAt: 1000 });
  } finally {
    second.close();
  }
});
