/**
 * Firmware updates end to end with the firmware's own core: `hearth ota push` serves an image, the host build
 * of the node really downloads it over HTTP, checks its size and SHA-256, "reboots" into it (the process
 * re-executes itself, as a board restarts) and confirms itself only once it is online again. A wrong hash is
 * refused before anything would boot; a broken image rolls back by itself. On both brokers.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { OtaStatusEvent } from "../../src/bus.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { claimedNode, type HearthNode } from "../helpers/hearth-node.ts";
import { getNode } from "../helpers/integration.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;

for (const kind of BROKER_KINDS) {
  describe(`firmware updates of hearth-node (${kind})`, () => {
    let bridge: TestBridge;
    const nodes: HearthNode[] = [];

    before(async () => {
      bridge = await TestBridge.start(kind, { brokerAccounts: true });
    });

    after(async () => {
      for (const node of nodes) await node.stop();
      await bridge?.stop();
    });

    async function board(nodeId: string, extra: string[] = []): Promise<HearthNode> {
      const node = await claimedNode(bridge, nodeId, extra);
      nodes.push(node);
      await eventually(async () => (await getNode(bridge, nodeId))?.online, 3000, "the bridge sees it online");
      return node;
    }

    /** `hearth ota push` as a user runs it, against the running daemon. */
    function push(nodeId: string, file: string, version: string) {
      const port = new URL(bridge.httpUrl).port;
      return runProcess(process.execPath, [BIN, "ota", "push", nodeId, file, "--version", version, "--timeout", "30"], {
        env: { ...process.env, HEARTH_DATA_DIR: bridge.dataDir, HEARTH_HTTP_PORT: port },
      });
    }

    test("hearth ota push installs a new image: downloaded, checked, rebooted into, confirmed", async () => {
      const nodeId = `ota-${kind}-1`;
      const node = await board(nodeId);
      const pid = node.pid;
      const image = join(node.stateDir, "..", `${nodeId}-1.1.0.bin`);
      await writeFile(image, randomBytes(300_000));

      const result = await push(nodeId, image, "1.1.0");
      assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}\n${node.logs()}`);
      // The CLI polls every 250 ms, so a download on loopback may finish between two polls (its progress
      // lines are tested with a slower node in test/integration/ota.test.ts); the node's log shows every step.
      assert.match(result.stdout, /success: ota-\S+ now runs 1\.1\.0/);
      assert.match(node.logs(), /ota: downloading 1\.1\.0 \(300000 bytes\)/);
      assert.match(node.logs(), /1\.1\.0 installed; restarting/);

      const after = await getNode(bridge, nodeId);
      assert.equal(after?.fw_version, "1.1.0");
      assert.equal(after?.online, true);
      assert.equal(node.pid, pid, "the same process restarted itself, as a board reboots");
      assert.match(node.logs(), /marking it valid/);
    });

    test("an image whose SHA-256 does not match is refused and reported; the node keeps its firmware", async () => {
      const nodeId = `ota-${kind}-2`;
      const node = await board(nodeId);
      const bytes = randomBytes(50_000);
      const server = await serve(bytes);
      const statuses: OtaStatusEvent[] = [];
      bridge.daemon.bus.on("test-ota", "ota.status", (event) => {
        if (event.nodeId === nodeId) statuses.push(event);
      });
      try {
        const wrong = createHash("sha256").update("something else").digest("hex");
        await bridge.daemon.link.publishCommand(nodeId, {
          id: "otaWrongHash0001",
          op: "ota",
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/image.bin`,
          sha256: wrong,
          size: bytes.length,
          version: "1.2.0",
        } as never);
        const failed = await eventually(() => statuses.find((s) => s.state === "failed"), 8000, "failed status");
        assert.equal(failed.id, "otaWrongHash0001");
        assert.equal(failed.error, "sha256_mismatch");
        assert.ok(
          statuses.some((s) => s.state === "downloading"),
          "it did download first",
        );
        assert.ok(!statuses.some((s) => s.state === "rebooting"), "nothing was installed");
        assert.equal(server.requests, 1, "the image was fetched over HTTP once");
        const stillThere = await getNode(bridge, nodeId);
        assert.deepEqual([stillThere?.fw_version, stillThere?.online], ["1.0.0", true]);
        assert.doesNotMatch(node.logs(), /restarting/);
      } finally {
        bridge.daemon.bus.removeListeners("test-ota");
        server.close();
      }
    });

    test("a broken image that never comes online rolls back by itself, and the push says so", async () => {
      const nodeId = `ota-${kind}-3`;
      const node = await board(nodeId, ["--ota-confirm-timeout-ms", "1500"]);
      const image = join(node.stateDir, "..", `${nodeId}-2.0.0.bin`);
      await writeFile(
        image,
        Buffer.concat([randomBytes(20_000), Buffer.from("HEARTH-HOST-BROKEN-IMAGE"), randomBytes(20_000)]),
      );

      const result = await push(nodeId, image, "2.0.0");
      assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}\n${node.logs()}`);
      assert.match(`${result.stdout}${result.stderr}`, /rolled_back/);
      assert.match(node.logs(), /rolling back/);
      const after = await getNode(bridge, nodeId);
      assert.deepEqual([after?.fw_version, after?.online], ["1.0.0", true]);
    });
  });
}

/** A plain HTTP server that serves one image, counting requests. */
async function serve(bytes: Buffer): Promise<Server & { requests: number }> {
  const server = createServer((_req, res) => {
    counted.requests++;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
    res.end(bytes);
  }) as Server & { requests: number };
  const counted = server;
  counted.requests = 0;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return counted;
}
