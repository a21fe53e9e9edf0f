/**
 * The backup module on real SQLite files, where the integration test cannot decide the timing: a write by
 * another connection between two steps makes SQLite start the copy again, and after `maxRestarts` the rest
 * is copied in one step, so a backup finishes however busy the database is; a failure during the copy
 * leaves nothing behind.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { backupDatabase, openDatabase, StoreError } from "../../src/store/index.ts";

let root: string;
let counter = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "hearth-backup-unit-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A data dir with a database of some hundred pages, and a folder for backups outside it. */
function setup(): { dataDir: string; source: string; out: string } {
  const dataDir = join(root, `data-${++counter}`);
  const out = join(root, `out-${counter}`);
  mkdirSync(out);
  const source = join(dataDir, "hearth.db");
  const db = openDatabase(source);
  const insert = db.prepare(
    "INSERT INTO audit_log (at, actor, action, outcome, detail) VALUES (?, 'test', 'bulk', 'ok', ?)",
  );
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run(i, "x".repeat(200));
  })();
  db.close();
  return { dataDir, source, out };
}

test("writes between steps restart the copy; after maxRestarts the rest is copied at once, writes included", async () => {
  const { dataDir, source, out } = setup();
  const writer = openDatabase(source);
  const insert = writer.prepare(
    "INSERT INTO audit_log (at, actor, action, outcome) VALUES (?, 'writer', 'during', 'ok')",
  );
  let steps = 0;
  let written = 0;
  const result = await backupDatabase({
    source,
    dataDir,
    destination: join(out, "busy.db"),
    pagesPerStep: 10,
    maxRestarts: 4,
    onProgress: () => {
      steps++;
      insert.run(Date.now());
      written++;
    },
  });
  writer.close();
  assert.equal(result.restarts, 4);
  assert.ok(result.pages > 100, `${result.pages} pages`);
  assert.ok(steps < 20, `${steps} steps: the copy did not go on restarting`);
  const copy = new Database(result.file, { readonly: true });
  const during = (copy.prepare("SELECT count(*) AS n FROM audit_log WHERE action = 'during'").get() as { n: number }).n;
  copy.close();
  assert.equal(during, written, "every write made before the last step is in the copy");
});

test("without writes the copy goes step by step and never restarts", async () => {
  const { dataDir, source, out } = setup();
  const seen: number[] = [];
  const result = await backupDatabase({
    source,
    dataDir,
    destination: join(out, "quiet.db"),
    pagesPerStep: 10,
    onProgress: (progress) => seen.push(progress.remainingPages),
  });
  assert.equal(result.restarts, 0);
  assert.equal(seen.length, Math.ceil(result.pages / 10));
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => b - a),
  );
});

test("a failure during the copy removes the partial file and leaves the destination alone", async () => {
  const { dataDir, source, out } = setup();
  let calls = 0;
  await assert.rejects(
    backupDatabase({
      source,
      dataDir,
      destination: join(out, "broken.db"),
      pagesPerStep: 10,
      onProgress: () => {
        if (++calls === 3) throw new Error("the disk went away");
      },
    }),
    (error: Error) =>
      error instanceof StoreError && /the backup to .*broken\.db failed: the disk went away/.test(error.message),
  );
  assert.deepEqual(readdirSync(out), []);
});
