/**
 * systemd/hearth-backup.service and .timer against hearth.service and the CLI. `systemd/check` verifies the
 * service's syntax and scores its hardening; this checks what it cannot know: that the backup runs as the
 * daemon's user with the daemon's settings (else it would read another database, or fail on a settings
 * file that needs the secrets), that it runs a real `hearth backup` into a folder outside the data dir, and
 * that the timer starts it.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { test } from "node:test";
import { backupCommand } from "../../src/cli/backup.ts";
import { readUnit } from "../helpers/systemd-unit.ts";

const daemon = readUnit("hearth.service").get("Service") as Map<string, string[]>;
const backup = readUnit("hearth-backup.service").get("Service") as Map<string, string[]>;
const timer = readUnit("hearth-backup.timer");

test("the backup runs as the daemon's user, with its data dir, settings and secrets", () => {
  for (const key of ["User", "Group", "Environment", "EnvironmentFile"]) {
    assert.deepEqual(backup.get(key), daemon.get(key), key);
  }
  assert.deepEqual(backup.get("Type"), ["oneshot"]);
  assert.deepEqual(backup.get("UMask"), ["0077"]);
});

test("it runs hearth backup --force into a folder of its own, outside the data dir", () => {
  const [execStart] = backup.get("ExecStart") ?? [];
  const command = /^\/bin\/sh -c 'exec \/usr\/bin\/node (\S+) backup --force "([^"]+)"'$/.exec(execStart ?? "");
  assert.ok(command, `ExecStart: ${execStart}`);
  const [, program, file] = command as unknown as [string, string, string];
  assert.deepEqual(daemon.get("ExecStart"), [`/usr/bin/node ${program} start`], "the same program as the daemon");
  assert.ok(
    backupCommand().options.some((option) => option.long === "--force"),
    "hearth backup has --force",
  );
  // systemd turns %S into /var/lib, `%%` into `%` and `$$` into `$`, which the shell then expands.
  const path = file.replaceAll("%S", "/var/lib").replaceAll("%%", "%").replaceAll("$$", "$");
  assert.equal(path, "/var/lib/hearth-backups/hearth-$(date +%u).db");
  const dataDir = /HEARTH_DATA_DIR=(\S+)/
    .exec(daemon.get("Environment")?.join(" ") ?? "")?.[1]
    ?.replace("%S", "/var/lib");
  assert.equal(dataDir, "/var/lib/hearth");
  assert.ok(relative(dataDir as string, join(path, "..")).startsWith(".."), "the folder is outside the data dir");
  // Both folders exist and are writable under ProtectSystem=strict: SQLite writes its -shm beside the
  // database it reads.
  assert.deepEqual(backup.get("StateDirectory"), ["hearth hearth-backups"]);
  assert.deepEqual(backup.get("StateDirectoryMode"), ["0700"]);
});

test("the timer starts the backup every night and catches up after a missed one", () => {
  const section = timer.get("Timer") as Map<string, string[]>;
  assert.deepEqual(section.get("Unit"), ["hearth-backup.service"]);
  assert.match(section.get("OnCalendar")?.[0] ?? "", /^\*-\*-\* \d\d:\d\d:00$/);
  assert.deepEqual(section.get("Persistent"), ["true"]);
  assert.deepEqual(timer.get("Install")?.get("WantedBy"), ["timers.target"]);
});
