/**
 * Firmware updates end to end on a real daemon, against the embedded broker and Debian's mosquitto: a node
 * that follows protocol §14.1 (test/helpers/ota-node.ts) receives the `ota` command, downloads the image over
 * HTTP, reports each step, reboots into the new version and reports success; `hearth ota push` shows it and
 * exits 0. The download URL works only with its own token and only while its job runs. A node's failure,
 * rejection or refusal ends the job with its reason, and so does silence past ota.jobTimeoutSeconds; pushes
 * that cannot work are refused before anything is sent; a job survives a restart of Hearth.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { OtaJobEvent } from "../../src/bus.ts";
import type { OtaJobView } from "../../src/ota/jobs.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { Cleanup, getNode } from "../helpers/integration.ts";
import { gate, OtaNode, type OtaNodeOptions } from "../helpers/ota-node.ts";
import { freePort } from "../helpers/ports.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;
const MAX_IMAGE_BYTES = 64 * 1024;

/** An ESP32 application image as ESP-IDF builds it, as far as Hearth reads it: the app description's version. */
function espImage(version: string | undefined, size = 40_000): Buffer {
  const image = randomBytes(size);
  image[0] = 0xe9;
  if (version === undefined) {
    image.writeUInt32LE(0, 32);
    return image;
  }
  image.writeUInt32LE(0xabcd5432, 32);
  image.fill(0, 48, 80);
  image.write(version, 48, "latin1");
  image.fill(0, 80, 112);
  image.write("hearth-test", 80, "latin1");
  return image;
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function pushImage(bridge: TestBridge, nodeId: string, image: Buffer, version?: string): Promise<Answer> {
  const token = bridge.daemon.store.adminTokens.create("ota-test", Date.now()).token;
  const query = version === undefined ? "" : `?version=${encodeURIComponent(version)}`;
  const response = await fetch(`${bridge.httpUrl}/api/v1/nodes/${nodeId}/ota${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
    body: new Uint8Array(image),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

async function getJob(bridge: TestBridge, jobId: string): Promise<OtaJobView> {
  const response = await bridge.api("GET", `/api/v1/ota/${jobId}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body as OtaJobView;
}

function waitForJob(bridge: TestBridge, jobId: string, state: string, timeoutMs = 5000): Promise<OtaJobView> {
  return eventually(
    async () => {
      const job = await getJob(bridge, jobId);
      return job.state === state ? job : undefined;
    },
    timeoutMs,
    `job ${jobId} ${state}`,
  );
}

function assertError(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body?.error?.code, code, JSON.stringify(answer.body));
  assert.equal(typeof answer.body.error.message, "string");
}

/** The download URL the node was given in the job's `ota` command. */
function urlOf(node: OtaNode, jobId: string): string {
  const command = node.commands.find((c) => c.id === jobId);
  assert.ok(command?.url, `no ota command for ${jobId}`);
  return command.url;
}

async function fetchUrl(url: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const response = await fetch(url);
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), headers: response.headers };
}

function cliEnv(bridge: TestBridge): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith("HEARTH_")) delete env[key];
  return { ...env, HEARTH_DATA_DIR: bridge.dataDir, HEARTH_URL: bridge.httpUrl };
}

function runCli(bridge: TestBridge, args: string[]) {
  return runProcess(process.execPath, [BIN, ...args], { env: cliEnv(bridge) });
}

let nodeCount = 0;

/** Registers a node the way a user does and connects an OTA-capable node with it; waits until it is online. */
async function startNode(
  bridge: TestBridge,
  cleanup: Cleanup,
  options: Partial<OtaNodeOptions> = {},
): Promise<OtaNode> {
  const nodeId = `ota-${bridge.kind === "embedded" ? "e" : "m"}-${++nodeCount}`;
  const credentials = await bridge.addNode(nodeId);
  const node = cleanup.add(
    await OtaNode.start({
      url: bridge.mqttUrl,
      nodeId,
      password: credentials.password,
      version: "1.0.0",
      ...options,
    }),
    (n) => n.close(),
  );
  await eventually(async () => (await getNode(bridge, nodeId))?.online, 3000, `${nodeId} online`);
  return node;
}

for (const kind of BROKER_KINDS) {
  describe(`firmware updates (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let files: string;

    before(async () => {
      bridge = cleanup.add(await TestBridge.start(kind, { settings: { "ota.maxImageBytes": MAX_IMAGE_BYTES } }), (b) =>
        b.stop(),
      );
      files = cleanup.add(await mkdtemp(join(tmpdir(), "hearth-ota-")), (dir) => rm(dir, { recursive: true }));
    });

    after(() => cleanup.run());

    test("hearth ota push reads the version from the image, shows each step and exits 0 once the node runs it", async () => {
      const node = await startNode(bridge, cleanup, { stepDelayMs: 700 });
      const image = espImage("2.0.0");
      const file = join(files, "firmware-2.0.0.bin");
      await writeFile(file, image);

      const result = await runCli(bridge, ["ota", "push", node.nodeId, file]);
      assert.equal(result.status, 0, result.stderr);
      const lines = result.stdout.trim().split("\n");
      assert.equal(
        lines[0],
        `Pushing 2.0.0 (${image.length} bytes, sha256 ${sha256(image).slice(0, 12)}…) to ${node.nodeId}`,
      );
      assert.equal(lines.at(-1), `success: ${node.nodeId} now runs 2.0.0`);
      // Every step the node took is shown once, in order.
      const steps = lines.slice(1, -1).map((line) => line.replace(/^downloading \d+ %$/, "downloading"));
      const firstOf = (step: string) => steps.indexOf(step);
      assert.ok(firstOf("downloading") >= 0, result.stdout);
      assert.ok(firstOf("verifying") > firstOf("downloading"), result.stdout);
      assert.ok(firstOf("rebooting") > firstOf("verifying"), result.stdout);
      assert.match(result.stdout, /^downloading 100 %$/m);

      assert.equal(node.version, "2.0.0");
      assert.equal((await getNode(bridge, node.nodeId))?.fw_version, "2.0.0");
      // What the node received is what was pushed, byte for byte.
      assert.deepEqual(node.downloads.at(-1)?.bytes, image);

      const list = await runCli(bridge, ["ota", "list", "--node", node.nodeId]);
      assert.equal(list.status, 0, list.stderr);
      const [header, row] = list.stdout.trim().split("\n");
      assert.match(header ?? "", /^JOB\s+NODE\s+VERSION\s+STATE\s+PROGRESS\s+ERROR\s+STARTED$/);
      assert.match(
        row ?? "",
        new RegExp(`^\\S{16}\\s+${node.nodeId}\\s+2\\.0\\.0\\s+success\\s+100 %\\s+-\\s+\\d{4}-`),
      );
    });

    test("through the API: 202 with the job, the command of §14.1, a download of exactly the image, then success", async () => {
      const node = await startNode(bridge, cleanup);
      const events: OtaJobEvent[] = [];
      bridge.daemon.bus.on("ota-test", "ota.job", (event) => {
        if (event.nodeId === node.nodeId) events.push(event);
      });
      cleanup.add(bridge, (b) => b.daemon.bus.removeListeners("ota-test"));
      const image = espImage("1.1.0");
      const pushed = await pushImage(bridge, node.nodeId, image, "1.1.0");
      assert.equal(pushed.status, 202, JSON.stringify(pushed.body));
      const job = pushed.body as OtaJobView;
      assert.equal(job.node, node.nodeId);
      assert.equal(job.version, "1.1.0");
      assert.equal(job.from_version, "1.0.0");
      assert.equal(job.size, image.length);
      assert.equal(job.sha256, sha256(image));
      assert.ok(["sent", "downloading", "verifying", "rebooting", "success"].includes(job.state), job.state);
      assert.equal(JSON.stringify(job).includes("token"), false, "the job never shows its token");

      const command = node.commands.find((c) => c.id === job.id);
      assert.ok(command, "the node received an ota command with the job's id");
      assert.equal(command.op, "ota");
      assert.equal(command.sha256, sha256(image));
      assert.equal(command.size, image.length);
      assert.equal(command.version, "1.1.0");
      assert.equal(command.dev, undefined);
      assert.match(command.url ?? "", new RegExp(`^${bridge.httpUrl}/ota/${job.id}/[A-Za-z0-9_-]{32}$`));

      const done = await waitForJob(bridge, job.id, "success");
      // Every step is announced on the bus, for whatever follows updates.
      assert.deepEqual(
        [...new Set(events.map((event) => event.state))],
        ["pending", "sent", "downloading", "verifying", "rebooting", "success"],
      );
      assert.ok(events.every((event) => event.jobId === job.id && event.version === "1.1.0"));
      assert.equal(done.progress, 100);
      assert.equal(done.error, null);
      assert.ok(done.ended_at);
      const download = node.downloads.at(-1);
      assert.equal(download?.status, 200);
      assert.equal(download?.contentType, "application/octet-stream");
      assert.equal(download?.contentLength, String(image.length));
      assert.deepEqual(download?.bytes, image);
      assert.equal((await getNode(bridge, node.nodeId))?.fw_version, "1.1.0");
      // The image is kept only while its job runs.
      assert.equal(existsSync(join(bridge.dataDir, "firmware", `${job.id}.bin`)), false);
      // The token never reaches the log, not even in the request lines of the download.
      const token = (command.url as string).split("/").at(-1) as string;
      assert.equal(bridge.logs.text().includes(token), false);

      const listed = await bridge.api("GET", `/api/v1/ota?node=${node.nodeId}`);
      assert.equal(listed.status, 200);
      assert.deepEqual(
        (listed.body as OtaJobView[]).map((j) => [j.id, j.state]),
        [[job.id, "success"]],
      );
      const all = await bridge.api("GET", "/api/v1/ota");
      assert.ok(
        (all.body as OtaJobView[]).some((j) => j.id === job.id),
        "without ?node=, every node's jobs",
      );
      const times = (all.body as OtaJobView[]).map((j) => j.created_at);
      assert.deepEqual(times, [...times].sort().reverse(), "newest first");
    });

    test("the download URL needs its own token and works only while its job runs; every refusal is the same 404", async () => {
      const holdA = gate();
      const holdB = gate();
      const a = await startNode(bridge, cleanup, { beforeDownload: holdA.wait });
      const b = await startNode(bridge, cleanup, { beforeDownload: holdB.wait });
      const imageA = espImage("3.0.0");
      const jobA = (await pushImage(bridge, a.nodeId, imageA, "3.0.0")).body as OtaJobView;
      const jobB = (await pushImage(bridge, b.nodeId, espImage("3.0.0"), "3.0.0")).body as OtaJobView;
      await waitForJob(bridge, jobA.id, "sent");
      const urlA = urlOf(a, jobA.id);
      const tokenB = urlOf(b, jobB.id).split("/").at(-1) as string;

      const image = join(bridge.dataDir, "firmware", `${jobA.id}.bin`);
      assert.equal(statSync(image).mode & 0o777, 0o600, "the image file is the owner's only");

      const good = await fetchUrl(urlA);
      assert.equal(good.status, 200);
      assert.deepEqual(good.body, imageA);

      const refusals = await Promise.all([
        fetchUrl(`${bridge.httpUrl}/ota/${jobA.id}/${tokenB}`),
        fetchUrl(`${bridge.httpUrl}/ota/${jobA.id}/${"x".repeat(32)}`),
        fetchUrl(`${bridge.httpUrl}/ota/${jobA.id}/`),
        fetchUrl(`${bridge.httpUrl}/ota/nosuchjob0000000/${tokenB}`),
      ]);
      for (const refusal of refusals) {
        assert.equal(refusal.status, 404);
        assert.deepEqual(JSON.parse(refusal.body.toString()), JSON.parse(refusals[0]?.body.toString() ?? ""));
      }

      holdA.release();
      holdB.release();
      await waitForJob(bridge, jobA.id, "success");
      await waitForJob(bridge, jobB.id, "success");
      const ended = await fetchUrl(urlA);
      assert.equal(ended.status, 404);
      assert.deepEqual(JSON.parse(ended.body.toString()), JSON.parse(refusals[0]?.body.toString() ?? ""));
    });

    test("a node that finds the image's sha256 wrong fails the job; hearth ota push exits 1 with the reason", async () => {
      const node = await startNode(bridge, cleanup, { corrupt: true });
      const file = join(files, "corrupt.bin");
      await writeFile(file, espImage("4.0.0"));
      const result = await runCli(bridge, ["ota", "push", node.nodeId, file]);
      assert.equal(result.status, 1, result.stdout);
      assert.match(result.stderr, /failed: sha256_mismatch \(image sha256 does not match\)/);
      const [job] = (await bridge.api("GET", `/api/v1/ota?node=${node.nodeId}`)).body as OtaJobView[];
      assert.equal(job?.state, "failed");
      assert.equal(job?.error, "sha256_mismatch");
      assert.equal(node.version, "1.0.0");
      assert.equal((await getNode(bridge, node.nodeId))?.fw_version, "1.0.0");
    });

    test("a node that already runs the version rejects it: the job ends rejected, same_version", async () => {
      const node = await startNode(bridge, cleanup);
      const pushed = await pushImage(bridge, node.nodeId, espImage("1.0.0"), "1.0.0");
      assert.equal(pushed.status, 202);
      const job = await waitForJob(bridge, pushed.body.id, "rejected");
      assert.equal(job.error, "same_version");
      assert.equal(node.downloads.length, 0, "nothing was downloaded");
    });

    test("a node that answers busy fails the job with busy, and the next push may start", async () => {
      const node = await startNode(bridge, cleanup, { answer: "busy" });
      const pushed = await pushImage(bridge, node.nodeId, espImage("5.0.0"), "5.0.0");
      assert.equal(pushed.status, 202);
      assert.equal(pushed.body.state, "failed");
      assert.equal(pushed.body.error, "busy");
      assert.equal(pushed.body.msg, "an update is running");
      const again = await pushImage(bridge, node.nodeId, espImage("5.0.0"), "5.0.0");
      assert.equal(again.status, 202, "an ended job does not block the node");
      assert.notEqual(again.body.id, pushed.body.id);
    });

    test("hearth ota push --timeout gives up waiting, not the update, and says how to follow it", async () => {
      const node = await startNode(bridge, cleanup, { silent: true });
      const file = join(files, "patience.bin");
      await writeFile(file, espImage("5.5.0"));
      const result = await runCli(bridge, ["ota", "push", node.nodeId, file, "--timeout", "1"]);
      assert.equal(result.status, 1);
      assert.match(
        result.stderr,
        new RegExp(`the update is still sent after 1 s; follow it with \`hearth ota list --node ${node.nodeId}\``),
      );
      const [job] = (await bridge.api("GET", `/api/v1/ota?node=${node.nodeId}`)).body as OtaJobView[];
      assert.equal(job?.state, "sent", "the job goes on in Hearth");
    });

    test("an offline node is refused with 503 offline, and nothing is created", async () => {
      const node = await startNode(bridge, cleanup);
      await node.close();
      await eventually(async () => (await getNode(bridge, node.nodeId))?.online === false, 3000, "offline");
      assertError(await pushImage(bridge, node.nodeId, espImage("6.0.0"), "6.0.0"), 503, "offline");
      assert.deepEqual((await bridge.api("GET", `/api/v1/ota?node=${node.nodeId}`)).body, []);
    });

    test("a node that does not declare services.ota is refused with 409 ota_unsupported", async () => {
      const node = await startNode(bridge, cleanup, { ota: false });
      assertError(await pushImage(bridge, node.nodeId, espImage("6.0.0"), "6.0.0"), 409, "ota_unsupported");
      assert.equal(node.commands.length, 0);
    });

    test("a second push while an update runs is refused with 409 ota_in_progress", async () => {
      const hold = gate();
      const node = await startNode(bridge, cleanup, { beforeDownload: hold.wait });
      const first = await pushImage(bridge, node.nodeId, espImage("7.0.0"), "7.0.0");
      assert.equal(first.status, 202);
      const second = await pushImage(bridge, node.nodeId, espImage("7.0.1"), "7.0.1");
      assertError(second, 409, "ota_in_progress");
      assert.match(second.body.error.message, new RegExp(first.body.id));
      hold.release();
      await waitForJob(bridge, first.body.id, "success");
    });

    test("an image over ota.maxImageBytes is refused with 413; a bad or missing version, an unknown node, JSON", async () => {
      const node = await startNode(bridge, cleanup);
      const tooLarge = await pushImage(bridge, node.nodeId, espImage("8.0.0", MAX_IMAGE_BYTES + 1), "8.0.0");
      assertError(tooLarge, 413, "image_too_large");
      assert.match(tooLarge.body.error.message, /ota\.maxImageBytes/);
      assertError(await pushImage(bridge, node.nodeId, espImage("8.0.0")), 400, "invalid_version");
      assertError(await pushImage(bridge, node.nodeId, espImage("8.0.0"), "8.0 beta"), 400, "invalid_version");
      assertError(await pushImage(bridge, node.nodeId, Buffer.alloc(0), "8.0.0"), 400, "empty_image");
      assertError(await pushImage(bridge, "no-such-node", espImage("8.0.0"), "8.0.0"), 404, "unknown_node");
      const json = await bridge.api("POST", `/api/v1/nodes/${node.nodeId}/ota?version=8.0.0`, { image: "x" });
      assertError(json, 415, "unsupported_media_type");
      assert.equal(node.commands.length, 0, "nothing reached the node");
      // The rest of the API still refuses bodies over http.bodyLimitBytes.
      const big = await bridge.api("PUT", "/api/v1/scenes/big", { name: "x".repeat(70_000), actions: [] });
      assertError(big, 413, "body_too_large");
    });

    test("hearth ota push without --version on an image with no app description says to pass --version", async () => {
      const node = await startNode(bridge, cleanup);
      const file = join(files, "plain.bin");
      await writeFile(file, espImage(undefined));
      const result = await runCli(bridge, ["ota", "push", node.nodeId, file]);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /has no ESP-IDF app description to read its version from: pass --version/);
      assert.equal(node.commands.length, 0);
      const explicit = await runCli(bridge, ["ota", "push", node.nodeId, file, "--version", "9.0.0", "--json"]);
      assert.equal(explicit.status, 0, explicit.stderr);
      const job = JSON.parse(explicit.stdout) as OtaJobView;
      assert.equal(job.state, "success");
      assert.equal(job.version, "9.0.0");
    });

    test("a job survives a restart of Hearth and completes when the node comes back with the new version", async () => {
      const hold = gate();
      const node = await startNode(bridge, cleanup, { beforeReconnect: hold.wait });
      const pushed = await pushImage(bridge, node.nodeId, espImage("10.0.0"), "10.0.0");
      assert.equal(pushed.status, 202);
      await waitForJob(bridge, pushed.body.id, "rebooting");
      await bridge.restart();
      const waiting = await getJob(bridge, pushed.body.id);
      assert.equal(waiting.state, "rebooting", "the job is still running after the restart");
      hold.release();
      const done = await waitForJob(bridge, pushed.body.id, "success");
      assert.equal(done.version, "10.0.0");
      assert.equal((await getNode(bridge, node.nodeId))?.fw_version, "10.0.0");
    });
  });

  describe(`firmware update timeouts and download limits (${kind})`, () => {
    const cleanup = new Cleanup();
    let bridge: TestBridge;
    let files: string;

    before(async () => {
      bridge = cleanup.add(await TestBridge.start(kind, { settings: { "ota.jobTimeoutSeconds": 1 } }), (b) => b.stop());
      files = cleanup.add(await mkdtemp(join(tmpdir(), "hearth-ota-")), (dir) => rm(dir, { recursive: true }));
    });

    after(() => cleanup.run());

    test("a node that accepts and then says nothing ends the job as timeout, and its URL stops working", async () => {
      const node = await startNode(bridge, cleanup, { silent: true });
      const pushed = await pushImage(bridge, node.nodeId, espImage("2.0.0"), "2.0.0");
      assert.equal(pushed.status, 202);
      assert.equal(pushed.body.state, "sent");
      const url = urlOf(node, pushed.body.id);
      assert.equal((await fetchUrl(url)).status, 200);
      const job = await waitForJob(bridge, pushed.body.id, "timeout", 4000);
      assert.equal(job.error, "timeout");
      assert.match(job.msg ?? "", /no word from the node for 1 s/);
      assert.equal((await fetchUrl(url)).status, 404);
    });

    test("hearth ota push --no-wait returns once the node has accepted the update", async () => {
      const node = await startNode(bridge, cleanup, { silent: true });
      const file = join(files, "silent.bin");
      await writeFile(file, espImage("3.0.0"));
      const noWait = await runCli(bridge, ["ota", "push", node.nodeId, file, "--no-wait"]);
      assert.equal(noWait.status, 0, noWait.stderr);
      assert.match(noWait.stdout, new RegExp(`^accepted by ${node.nodeId}$`, "m"));
      assert.match(noWait.stdout, new RegExp(`is running; follow it with \`hearth ota list --node ${node.nodeId}\``));
      await waitForJob(bridge, node.commands[0]?.id as string, "timeout", 4000);
    });

    test("hearth ota push says when Hearth is not running", async () => {
      const node = await startNode(bridge, cleanup);
      const file = join(files, "offline-daemon.bin");
      await writeFile(file, espImage("3.1.0"));
      const port = await freePort();
      const result = await runProcess(process.execPath, [BIN, "ota", "push", node.nodeId, file], {
        env: { ...cliEnv(bridge), HEARTH_URL: `http://127.0.0.1:${port}` },
      });
      assert.equal(result.status, 1);
      assert.match(result.stderr, /Hearth is not running at http:\/\/127\.0\.0\.1:\d+/);
    });

    test("downloads are counted per address before any token is checked", async () => {
      const hold = gate();
      const node = await startNode(bridge, cleanup, { beforeDownload: hold.wait });
      const pushed = await pushImage(bridge, node.nodeId, espImage("2.1.0"), "2.1.0");
      const url = urlOf(node, pushed.body.id);
      // Wrong URLs until the address is over its limit (30 a minute, some already spent by the test before).
      const statuses: number[] = [];
      while (statuses.length < 40 && statuses.at(-1) !== 429)
        statuses.push((await fetchUrl(`${bridge.httpUrl}/ota/${pushed.body.id}/wrong${statuses.length}`)).status);
      assert.equal(statuses.at(-1), 429);
      assert.ok(statuses.length >= 25 && statuses.length <= 31, `${statuses.length} requests before the limit`);
      assert.deepEqual(new Set(statuses.slice(0, -1)), new Set([404]));
      const limited = await fetchUrl(url);
      assert.equal(limited.status, 429, "even the right URL waits once the address is over its limit");
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);
      hold.release();
    });
  });
}

describe("where nodes download firmware from", () => {
  test("listening on 0.0.0.0 without ota.baseUrl or publicUrl, Hearth warns at start that nodes cannot download", async () => {
    const bridge = await TestBridge.start("embedded", { settings: { "http.host": "0.0.0.0" } });
    try {
      const warning = bridge.logs.find((line) => String(line.msg).includes("nodes cannot download firmware"));
      assert.ok(warning, "a warning at start");
      assert.match(String(warning.msg), /set ota\.baseUrl \(HEARTH_OTA_BASE_URL\)/);
    } finally {
      await bridge.stop();
    }
  });

  test("with ota.baseUrl, the node is sent a URL under it, and no warning is given", async () => {
    const cleanup = new Cleanup();
    try {
      const bridge = cleanup.add(
        await TestBridge.start("embedded", {
          settings: { "http.host": "0.0.0.0", "ota.baseUrl": "http://hearth.lan:8080/" },
        }),
        (b) => b.stop(),
      );
      assert.equal(
        bridge.logs.find((line) => String(line.msg).includes("nodes cannot download firmware")),
        undefined,
      );
      const node = await startNode(bridge, cleanup, { silent: true });
      const pushed = await pushImage(bridge, node.nodeId, espImage("2.0.0"), "2.0.0");
      assert.equal(pushed.status, 202);
      assert.match(urlOf(node, pushed.body.id), new RegExp(`^http://hearth\\.lan:8080/ota/${pushed.body.id}/\\S{32}$`));
    } finally {
      await cleanup.run();
    }
  });
});
