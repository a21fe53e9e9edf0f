/**
 * A Report State still on its way to Google when Hearth stops: its answer arrives after the daemon closed
 * the store, and must be dropped rather than written, which would reject a promise nobody awaits.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { EventBus } from "../../src/bus.ts";
import { loadConfig } from "../../src/config/index.ts";
import type { HomeGraphOutcome } from "../../src/google/homegraph.ts";
import { GoogleReportState } from "../../src/google/report-state.ts";
import { createLogger } from "../../src/log.ts";
import { resolveDeclaration } from "../../src/model/index.ts";
import { hashSecret } from "../../src/security/secrets.ts";
import { Store } from "../../src/store/index.ts";
import { linkAccount } from "../helpers/linking.ts";

const dir = mkdtempSync(join(tmpdir(), "hearth-report-stop-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("an answer that arrives after the stop is not written to the closed store", async () => {
  const store = Store.open(dir);
  const now = Date.now();
  store.nodes.add("stop-node-1", hashSecret("pw"), now);
  store.devices.applyNodeConfig(
    "stop-node-1",
    [resolveDeclaration({ id: "light", type: "light", params: [{ id: "on", type: "bool", rw: "rw" }] })],
    now,
  );
  const gina = await linkAccount(store, "gina", "google");
  store.googleLinks.markActive(gina.userId, now);
  const { config } = loadConfig({ env: {}, overrides: { dataDir: dir, "google.reportStateDelayMs": 10 } });

  let answer: ((outcome: HomeGraphOutcome) => void) | undefined;
  let called!: () => void;
  const asked = new Promise<void>((resolve) => {
    called = resolve;
  });
  const bus = new EventBus();
  const reports = new GoogleReportState({
    bus,
    store,
    config,
    log: createLogger("silent"),
    homegraph: {
      configured: true,
      requestSync: async () => ({ ok: true }),
      reportState: () =>
        new Promise<HomeGraphOutcome>((resolve) => {
          answer = resolve;
          called();
        }),
    },
  });
  reports.start();
  bus.emit("device.state", {
    deviceId: "stop-node-1.light",
    nodeId: "stop-node-1",
    state: { on: true },
    changed: ["on"],
    cause: "report",
    at: now,
  });
  await asked;
  // What Daemon.stop does while the report is out: the components first, the store last.
  reports.stop();
  store.close();
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on("unhandledRejection", onRejection);
  try {
    answer?.({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off("unhandledRejection", onRejection);
  }
  assert.deepEqual(rejections, []);
});
