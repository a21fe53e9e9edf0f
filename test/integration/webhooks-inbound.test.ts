/**
 * Inbound webhooks end to end on a real daemon with simulated nodes: a signed call runs its actions and
 * answers what each node confirmed; Standard Webhooks (several signatures, both secrets during a rotation,
 * the timestamp tolerance, replayed ids), GitHub's signature and delivery id, and the URL token of an
 * unsigned hook all prove a sender; every bad input is refused with its own error and nothing reaches a
 * node; the per-hook rate limit comes before any signature work; async hooks answer 202 and finish in the
 * background; every call is in the audit log without a secret; hooks are managed through the admin API and
 * `hearth hook`.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { SceneDefinition } from "../../src/scenes/index.ts";
import type { SimNode } from "../../src/sim/index.ts";
import { signGithub, signStandard } from "../../src/webhooks/signature.ts";
import { type BrokerKind, eventually, TestBridge } from "../helpers/bridge.ts";
import { addAndConnectNode, Cleanup, commandLog } from "../helpers/integration.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;

const LIVING = "hook-living-1";
const LIGHT = `${LIVING}.light`;
const SWITCH = `${LIVING}.switch`;
const PORCH = "hook-porch-1";
const PORCH_LIGHT = `${PORCH}.light`;
/** Allowed on some hooks, declared by no node. */
const GHOST = "hook-ghost-1.light";

const SCENES: SceneDefinition[] = [
  { id: "evening", name: "Evening", actions: [{ device: LIGHT, params: { on: true, brightness: 30 } }] },
  { id: "porch-on", name: "Porch on", actions: [{ device: PORCH_LIGHT, params: { on: true } }] },
];

interface Issued {
  id: string;
  name: string;
  url: string;
  mode: "signed" | "token";
  devices: string[];
  scenes: string[];
  async: boolean;
  secret?: string;
  token?: string;
}

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

interface AuditView {
  id: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  detail: string | null;
}

async function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(url, { method: "POST", headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // kept as text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

interface SignOptions {
  id?: string;
  timestamp?: number;
  /** Signatures placed before the real one in webhook-signature. */
  others?: string[];
  contentType?: string;
  /** Bytes sent instead of the signed ones. */
  sendInstead?: string;
}

/** A Standard Webhooks call signed with `secret`, as a sender library makes it. */
function signedCall(url: string, secret: string, payload: unknown, options: SignOptions = {}): Promise<Answer> {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = [...(options.others ?? []), signStandard(secret, id, timestamp, body)].join(" ");
  return post(url, options.sendInstead ?? body, {
    "content-type": options.contentType ?? "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature,
  });
}

function githubCall(url: string, secret: string, payload: unknown, headers: Record<string, string> = {}) {
  const body = JSON.stringify(payload);
  return post(url, body, {
    "content-type": "application/json",
    "x-hub-signature-256": signGithub(secret, body),
    ...headers,
  });
}

function setLight(params: Record<string, unknown>, device = LIGHT) {
  return { actions: [{ device, params }] };
}

/** Asserts the standard error shape and code, and that nothing about the server's insides leaked. */
function assertError(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body?.error?.code, code, JSON.stringify(answer.body));
  assert.equal(typeof answer.body.error.message, "string");
  assert.doesNotMatch(JSON.stringify(answer.body), /\bat .*\.ts:\d+/, "no stack trace");
}

async function createHook(bridge: TestBridge, body: Record<string, unknown>): Promise<Issued> {
  const created = await bridge.api("POST", "/api/v1/hooks", body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body as Issued;
}

async function auditOf(bridge: TestBridge, hookName: string): Promise<AuditView[]> {
  const entries = await bridge.api("GET", "/api/v1/audit?action=hook_call&limit=1000");
  return (entries.body as AuditView[]).filter((entry) => entry.actor === `hook:${hookName}`);
}

/** Runs `fn` and asserts that no node received a command meanwhile. */
async function nothingRuns(sims: SimNode[], fn: () => Promise<void>): Promise<void> {
  const before = sims.map((sim) => sim.commandsReceived);
  await fn();
  assert.deepEqual(
    sims.map((sim) => sim.commandsReceived),
    before,
    "no command reached a node",
  );
}

async function startBridge(kind: BrokerKind, settings: Record<string, unknown> = {}) {
  const cleanup = new Cleanup();
  const bridge = cleanup.add(await TestBridge.start(kind, { settings: { scenes: SCENES, ...settings } }), (b) =>
    b.stop(),
  );
  const { sim: living } = await addAndConnectNode(bridge, LIVING, { devices: ["light", "switch"] });
  cleanup.add(living, (s) => s.close());
  const { sim: porch } = await addAndConnectNode(bridge, PORCH, { devices: ["light"] });
  cleanup.add(porch, (s) => s.close());
  return { cleanup, bridge, living, porch };
}

describe("inbound webhooks (embedded)", () => {
  let cleanup: Cleanup;
  let bridge: TestBridge;
  let living: SimNode;
  let porch: SimNode;
  /** Every credential issued during the suite: none may appear in a log or an audit entry. */
  const secrets: string[] = [];
  let main: Issued;

  before(async () => {
    ({ cleanup, bridge, living, porch } = await startBridge("embedded"));
    main = await createHook(bridge, { name: "living", devices: [LIGHT, SWITCH, GHOST], scenes: ["evening"] });
    secrets.push(main.secret as string);
  });

  after(() => cleanup.run());

  test("a signed call runs its actions and answers the state each node confirmed", async () => {
    assert.equal(main.mode, "signed");
    assert.match(main.secret as string, /^whsec_/);
    assert.equal(main.url, `${bridge.httpUrl}/hooks/${main.id}`);
    await bridge.api("POST", `/api/v1/devices/${SWITCH}/commands`, { params: { on: false } });

    const answer = await signedCall(main.url, main.secret as string, {
      actions: [
        { device: LIGHT, params: { on: true, brightness: 10 } },
        { device: SWITCH, params: { on: true } },
        // The same device in the call's order: the light ends at 70.
        { device: LIGHT, params: { brightness: 70 } },
      ],
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, "ok");
    assert.deepEqual(
      answer.body.results.map((r: { device: string; status: string }) => [r.device, r.status]),
      [
        [LIGHT, "ok"],
        [SWITCH, "ok"],
        [LIGHT, "ok"],
      ],
    );
    assert.equal(living.state("light").brightness, 70);
    assert.equal(living.state("light").on, true);
    assert.equal(living.state("switch").on, true);
    assert.deepEqual(answer.body.results[2].state, living.state("light"), "what the node confirmed");
    assert.deepEqual(answer.body.results[1].state, living.state("switch"));

    const [entry] = await commandLog(bridge, SWITCH);
    assert.equal(entry?.actor, "hook:living", "commands are logged under the hook's name");
    const [audit] = await auditOf(bridge, "living");
    assert.equal(audit?.outcome, "ok");
    assert.equal(audit?.target, main.id);
    assert.match(audit?.detail ?? "", /standard webhook-id msg_/);

    const listed = await bridge.api("GET", "/api/v1/hooks");
    const view = listed.body.find((h: Issued) => h.name === "living");
    assert.equal(view.secret, undefined, "the secret is shown only once");
    assert.notEqual(view.last_used_at, null);
  });

  test("a scene on the allow-list runs through the scene service", async () => {
    await bridge.api("POST", `/api/v1/devices/${LIGHT}/commands`, { params: { on: false } });
    const answer = await signedCall(main.url, main.secret as string, { scene: "evening" });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, "ok");
    assert.deepEqual(answer.body.results[0].state, living.state("light"));
    assert.equal(living.state("light").on, true);
    assert.equal(living.state("light").brightness, 30);
  });

  test("one matching signature among several in the header is enough", async () => {
    const others = [
      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
      `v1,${"A".repeat(43)}=`,
      "v1a,c29tZSBlZDI1NTE5IHNpZ25hdHVyZQ==",
    ];
    const answer = await signedCall(main.url, main.secret as string, setLight({ brightness: 55 }), { others });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(living.state("light").brightness, 55);
  });

  test("after a rotation both secrets work; the one before is refused after the next rotation", async () => {
    const hook = await createHook(bridge, { name: "rotating", devices: [LIGHT] });
    const first = hook.secret as string;
    const rotated = await bridge.api("POST", "/api/v1/hooks/rotating/rotate-secret");
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const second = rotated.body.secret as string;
    assert.notEqual(second, first);
    secrets.push(first, second);

    assert.equal((await signedCall(hook.url, first, setLight({ brightness: 21 }))).status, 200);
    assert.equal(living.state("light").brightness, 21);
    assert.equal((await signedCall(hook.url, second, setLight({ brightness: 22 }))).status, 200);
    assert.equal(living.state("light").brightness, 22);

    const again = await bridge.api("POST", "/api/v1/hooks/rotating/rotate-secret");
    const third = again.body.secret as string;
    secrets.push(third);
    await nothingRuns([living], async () => {
      assertError(await signedCall(hook.url, first, setLight({ brightness: 23 })), 401, "bad_signature");
    });
    assert.equal((await signedCall(hook.url, second, setLight({ brightness: 24 }))).status, 200);
    assert.equal((await signedCall(hook.url, third, setLight({ brightness: 25 }))).status, 200);
    assert.equal(living.state("light").brightness, 25);
  });

  test("a GitHub signature proves the sender; a delivery id runs once; a ping is answered", async () => {
    const secret = main.secret as string;
    const delivery = randomUUID();
    const answer = await githubCall(main.url, secret, setLight({ brightness: 61 }), {
      "x-github-delivery": delivery,
      "x-github-event": "workflow_dispatch",
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(living.state("light").brightness, 61);

    await nothingRuns([living], async () => {
      const replay = await githubCall(main.url, secret, setLight({ brightness: 61 }), {
        "x-github-delivery": delivery,
      });
      assertError(replay, 409, "replay");
      const ping = await githubCall(
        main.url,
        secret,
        { zen: "Keep it logically awesome.", hook_id: 1 },
        {
          "x-github-event": "ping",
          "x-github-delivery": randomUUID(),
        },
      );
      assert.equal(ping.status, 200, JSON.stringify(ping.body));
      assertError(await githubCall(main.url, "whsec_wrong", setLight({ on: false })), 401, "bad_signature");
    });
    const audit = await auditOf(bridge, "living");
    assert.ok(audit.some((e) => e.outcome === "ping"));
    assert.ok(audit.some((e) => e.outcome === "replay" && e.detail?.includes(delivery)));
  });

  test("an unsigned hook takes its token in the URL, stored only as a hash", async () => {
    const hook = await createHook(bridge, { name: "plain", devices: [SWITCH], unsigned: true });
    assert.equal(hook.mode, "token");
    assert.equal(hook.secret, undefined);
    const token = hook.token as string;
    secrets.push(token);
    assert.ok(token.length >= 43);
    assert.equal(hook.url, `${bridge.httpUrl}/hooks/${hook.id}?token=${token}`);
    const keys = bridge.daemon.store.hooks.keys(hook.id);
    assert.ok(keys?.tokenHash && !keys.tokenHash.includes(token), "only a hash of the token is kept");

    const answer = await post(hook.url, JSON.stringify({ actions: [{ device: SWITCH, params: { on: false } }] }), {
      "content-type": "application/json",
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(living.state("switch").on, false);

    const bare = `${bridge.httpUrl}/hooks/${hook.id}`;
    const body = JSON.stringify({ actions: [{ device: SWITCH, params: { on: true } }] });
    await nothingRuns([living], async () => {
      assertError(await post(bare, body, { "content-type": "application/json" }), 401, "missing_signature");
      assertError(
        await post(`${bare}?token=${token.slice(0, -1)}x`, body, { "content-type": "application/json" }),
        401,
        "bad_signature",
      );
      // A signature is no substitute for the token of an unsigned hook.
      assertError(await signedCall(bare, main.secret as string, JSON.parse(body)), 401, "missing_signature");
    });
    assert.equal(living.state("switch").on, false);
  });

  test("refused before anything runs: unknown hook, missing, wrong and stale signatures, replays", async () => {
    const secret = main.secret as string;
    const body = setLight({ on: false, brightness: 5 });
    await nothingRuns([living, porch], async () => {
      const unknown = await signedCall(`${bridge.httpUrl}/hooks/${"x".repeat(16)}`, secret, body);
      assertError(unknown, 404, "unknown_hook");
      assert.deepEqual(unknown.body, { error: { code: "unknown_hook", message: "no such hook" } });

      assertError(
        await post(main.url, JSON.stringify(body), { "content-type": "application/json" }),
        401,
        "missing_signature",
      );
      const partial = await post(main.url, JSON.stringify(body), {
        "content-type": "application/json",
        "webhook-id": "msg_1",
        "webhook-signature": signStandard(secret, "msg_1", Math.floor(Date.now() / 1000), JSON.stringify(body)),
      });
      assertError(partial, 401, "missing_signature");
      assertError(await signedCall(main.url, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", body), 401, "bad_signature");
      // The bytes must be the signed ones: re-serialised JSON does not match.
      const reformatted = await signedCall(main.url, secret, body, { sendInstead: JSON.stringify(body, null, 1) });
      assertError(reformatted, 401, "bad_signature");
      const now = Math.floor(Date.now() / 1000);
      assertError(await signedCall(main.url, secret, body, { timestamp: now - 600 }), 401, "stale_timestamp");
      assertError(await signedCall(main.url, secret, body, { timestamp: now + 600 }), 401, "stale_timestamp");
    });

    const id = `msg_${randomUUID()}`;
    assert.equal((await signedCall(main.url, secret, body, { id })).status, 200);
    await nothingRuns([living], async () => {
      assertError(await signedCall(main.url, secret, body, { id }), 409, "replay");
    });
  });

  test("refused before anything runs: devices and scenes off the allow-list", async () => {
    const secret = main.secret as string;
    await nothingRuns([living, porch], async () => {
      const mixed = await signedCall(main.url, secret, {
        actions: [
          { device: LIGHT, params: { on: true } },
          { device: PORCH_LIGHT, params: { on: true } },
        ],
      });
      assertError(mixed, 403, "not_allowed");
      assert.match(mixed.body.error.message, new RegExp(PORCH_LIGHT.replaceAll(".", "\\.")));
      assert.deepEqual(mixed.body.error.refused, [PORCH_LIGHT]);
      const scene = await signedCall(main.url, secret, { scene: "porch-on" });
      assertError(scene, 403, "not_allowed");
      assert.match(scene.body.error.message, /porch-on/);
    });
  });

  test("refused before anything runs: bodies that are not a valid call", async () => {
    const secret = main.secret as string;
    const tooMany = { actions: Array.from({ length: 33 }, () => ({ device: LIGHT, params: { on: true } })) };
    await nothingRuns([living, porch], async () => {
      assertError(await signedCall(main.url, secret, "{not json"), 400, "invalid_json");
      assertError(await signedCall(main.url, secret, ""), 400, "invalid_json");
      for (const invalid of [
        {},
        { actions: [] },
        tooMany,
        { actions: [{ device: LIGHT, params: { on: true }, extra: 1 }] },
        { actions: [{ device: LIGHT, params: { on: true } }], scene: "evening" },
        { actions: [{ device: LIGHT, params: { on: true } }], note: "hi" },
        { scene: "Not A Scene" },
        [setLight({ on: true })],
      ]) {
        assertError(await signedCall(main.url, secret, invalid), 400, "invalid_body");
      }
      // One invalid command stops the whole call, and says which action and param.
      const outOfRange = await signedCall(main.url, secret, {
        actions: [
          { device: SWITCH, params: { on: true } },
          { device: LIGHT, params: { brightness: 500 } },
        ],
      });
      assertError(outOfRange, 400, "out_of_range");
      assert.equal(outOfRange.body.error.param, "brightness");
      assert.match(outOfRange.body.error.message, /actions\[1\]/);
      assertError(await signedCall(main.url, secret, setLight({ colour: "red" })), 400, "unknown_param");
      assertError(
        await signedCall(main.url, secret, setLight({ on: true }), { contentType: "text/plain" }),
        415,
        "unsupported_media_type",
      );
      const large = { actions: [{ device: LIGHT, params: { on: true } }], padding: "x".repeat(70_000) };
      assertError(await signedCall(main.url, secret, large), 413, "body_too_large");
    });
  });

  test("a scene that is allowed but does not exist is refused with unknown_scene", async () => {
    const hook = await createHook(bridge, { name: "ghost-scene", scenes: ["nowhere"] });
    secrets.push(hook.secret as string);
    await nothingRuns([living, porch], async () => {
      assertError(await signedCall(hook.url, hook.secret as string, { scene: "nowhere" }), 404, "unknown_scene");
    });
  });

  test("failed actions are results: partial is 200, all failed is 502 and the sender may retry", async () => {
    const secret = main.secret as string;
    const partial = await signedCall(main.url, secret, {
      actions: [
        { device: LIGHT, params: { brightness: 44 } },
        { device: GHOST, params: { on: true } },
      ],
    });
    assert.equal(partial.status, 200, JSON.stringify(partial.body));
    assert.equal(partial.body.status, "partial");
    assert.deepEqual(partial.body.results[1], {
      device: GHOST,
      status: "error",
      error: { code: "unknown_device", message: `no device "${GHOST}"` },
    });
    assert.equal(living.state("light").brightness, 44);

    const id = `msg_${randomUUID()}`;
    const failed = await signedCall(main.url, secret, setLight({ on: true }, GHOST), { id });
    assertError(failed, 502, "actions_failed");
    assert.equal(failed.body.error.results[0].error.code, "unknown_device");
    // Nothing was achieved, so the sender's retry with the same id runs again instead of being a replay.
    assertError(await signedCall(main.url, secret, setLight({ on: true }, GHOST), { id }), 502, "actions_failed");
    const audit = await auditOf(bridge, "living");
    assert.ok(audit.some((e) => e.outcome === "partial"));
    assert.ok(audit.some((e) => e.outcome === "failed" && e.detail?.includes(id)));
  });

  test("an async hook answers 202 with a tracking id and its results reach the audit log", async () => {
    const hook = await createHook(bridge, { name: "later", devices: [PORCH_LIGHT], async: true });
    secrets.push(hook.secret as string);
    assert.equal(hook.async, true);
    const answer = await signedCall(
      hook.url,
      hook.secret as string,
      setLight({ on: true, brightness: 33 }, PORCH_LIGHT),
    );
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const trackingId = answer.body.tracking_id as string;
    assert.match(trackingId, /^[A-Za-z0-9_-]{16}$/);
    const done = await eventually(
      async () => (await auditOf(bridge, "later")).find((e) => e.outcome === "ok" && e.detail?.includes(trackingId)),
      3000,
      "the queued call's result in the audit log",
    );
    assert.match(done.detail ?? "", new RegExp(`${PORCH_LIGHT.replaceAll(".", "\\.")} ok`));
    assert.equal(porch.state("light").brightness, 33);
    const queued = (await auditOf(bridge, "later")).find((e) => e.outcome === "queued");
    assert.ok(queued?.detail?.includes(trackingId));

    // Refusals of an async hook are answered at once, like a synchronous one's.
    await nothingRuns([porch], async () => {
      assertError(await signedCall(hook.url, hook.secret as string, setLight({ on: true })), 403, "not_allowed");
    });
  });

  test("hooks are managed through the admin API, behind the admin token", async () => {
    assert.equal((await bridge.api("GET", "/api/v1/hooks", undefined, "hth_wrong")).status, 401);
    assertError(
      { ...(await bridge.api("POST", "/api/v1/hooks", { name: "living", devices: [LIGHT] })) },
      409,
      "hook_exists",
    );
    for (const invalid of [
      { name: "Bad Name", devices: [LIGHT] },
      { name: "empty" },
      { name: "extra", devices: [LIGHT], secret: "mine" },
    ]) {
      assertError({ ...(await bridge.api("POST", "/api/v1/hooks", invalid)) }, 400, "invalid_request");
    }
    const doomed = await createHook(bridge, { name: "doomed", devices: [LIGHT] });
    secrets.push(doomed.secret as string);
    const removed = await bridge.api("DELETE", "/api/v1/hooks/doomed");
    assert.equal(removed.status, 204);
    assertError(await signedCall(doomed.url, doomed.secret as string, setLight({ on: true })), 404, "unknown_hook");
    assertError({ ...(await bridge.api("DELETE", "/api/v1/hooks/doomed")) }, 404, "unknown_hook");
    assertError({ ...(await bridge.api("POST", "/api/v1/hooks/doomed/rotate-secret")) }, 404, "unknown_hook");

    const changes = await bridge.api("GET", "/api/v1/audit?limit=1000");
    const actions = (changes.body as AuditView[]).filter((e) => e.target === doomed.id).map((e) => e.action);
    assert.deepEqual(actions.sort(), ["hook_add", "hook_remove"]);
  });

  test("hearth hook add, list, rotate-secret and remove work on the store the daemon uses", async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const key of Object.keys(process.env)) if (key.startsWith("HEARTH_")) env[key] = undefined;
    Object.assign(env, { HEARTH_DATA_DIR: bridge.dataDir, HEARTH_URL: bridge.httpUrl });
    const cli = (...args: string[]) =>
      runProcess(process.execPath, [BIN, "hook", ...args], { env: { ...process.env, ...env } });

    const added = await cli("add", "from-cli", "--devices", `${LIGHT}, ${SWITCH}`, "--json");
    assert.equal(added.status, 0, added.stderr);
    const issued = JSON.parse(added.stdout) as Issued;
    secrets.push(issued.secret as string);
    assert.deepEqual(issued.devices, [LIGHT, SWITCH]);
    assert.equal(issued.url, `${bridge.httpUrl}/hooks/${issued.id}`);
    assert.equal((await signedCall(issued.url, issued.secret as string, setLight({ brightness: 12 }))).status, 200);
    assert.equal(living.state("light").brightness, 12);

    const text = await cli("add", "cli-token", "--scenes", "evening", "--unsigned", "--async");
    assert.equal(text.status, 0, text.stderr);
    const tokenUrl = /URL\s+(\S+\?token=\S+)/.exec(text.stdout)?.[1];
    assert.ok(tokenUrl, text.stdout);
    secrets.push(new URL(tokenUrl).searchParams.get("token") as string);
    assert.match(text.stdout, /Whoever sees this URL can call the hook/);

    const listed = await cli("list", "--json");
    assert.equal(listed.status, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as Array<Issued & { secret?: string; token?: string }>;
    const row = rows.find((h) => h.name === "cli-token");
    assert.equal(row?.mode, "token");
    assert.equal(row?.async, true);
    assert.ok(rows.every((h) => h.secret === undefined && h.token === undefined));
    const table = await cli("list");
    assert.match(table.stdout, /^NAME\s+MODE/m);
    assert.ok(!table.stdout.includes(issued.secret as string));

    const rotated = await cli("rotate-secret", "from-cli", "--json");
    assert.equal(rotated.status, 0, rotated.stderr);
    const fresh = JSON.parse(rotated.stdout).secret as string;
    secrets.push(fresh);
    assert.equal((await signedCall(issued.url, issued.secret as string, setLight({ brightness: 13 }))).status, 200);
    assert.equal((await signedCall(issued.url, fresh, setLight({ brightness: 14 }))).status, 200);

    const removed = await cli("remove", "from-cli");
    assert.equal(removed.status, 0, removed.stderr);
    assertError(await signedCall(issued.url, fresh, setLight({ brightness: 15 })), 404, "unknown_hook");
    const missing = await cli("remove", "from-cli");
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no hook "from-cli"/);
    const duplicate = await cli("add", "cli-token", "--devices", LIGHT);
    assert.equal(duplicate.status, 1);
    assert.match(duplicate.stderr, /exists/);
  });

  test("every call is audited with its reason, and no secret, token or signature is logged", async () => {
    const audit = await auditOf(bridge, "living");
    const outcomes = new Set(audit.map((e) => e.outcome));
    for (const outcome of [
      "ok",
      "partial",
      "failed",
      "missing_signature",
      "bad_signature",
      "stale_timestamp",
      "replay",
      "not_allowed",
      "invalid_json",
      "invalid_body",
      "out_of_range",
      "unsupported_media_type",
      "body_too_large",
    ]) {
      assert.ok(outcomes.has(outcome), `no "${outcome}" entry`);
    }
    const everything = JSON.stringify((await bridge.api("GET", "/api/v1/audit?limit=1000")).body);
    const logs = bridge.logs.text();
    for (const secret of secrets) {
      assert.ok(!everything.includes(secret), "a credential is in the audit log");
      assert.ok(!logs.includes(secret), "a credential is in the log");
      const key = secret.replace(/^whsec_/, "");
      assert.ok(!logs.includes(key) && !everything.includes(key));
    }
    assert.doesNotMatch(everything, /v1,[A-Za-z0-9+/]{43}=/, "no signature in the audit log");
    assert.doesNotMatch(logs, /v1,[A-Za-z0-9+/]{43}=|sha256=[0-9a-f]{64}/, "no signature in the log");
  });
});

describe("inbound webhooks: rate limit", () => {
  let cleanup: Cleanup;
  let bridge: TestBridge;
  let living: SimNode;

  before(async () => {
    ({ cleanup, bridge, living } = await startBridge("embedded", { "webhooks.requestsPerMinute": 2 }));
  });

  after(() => cleanup.run());

  test("calls over the hook's limit get 429 with Retry-After before any signature is checked", async () => {
    const hook = await createHook(bridge, { name: "limited", devices: [LIGHT] });
    const other = await createHook(bridge, { name: "unlimited", devices: [LIGHT] });
    const secret = hook.secret as string;
    assert.equal((await signedCall(hook.url, secret, setLight({ brightness: 1 }))).status, 200);
    // A refused call counts too: the limit is on calls, whoever makes them.
    assertError(await signedCall(hook.url, "whsec_wrong", setLight({ brightness: 2 })), 401, "bad_signature");
    await nothingRuns([living], async () => {
      for (const attempt of [
        () => signedCall(hook.url, secret, setLight({ brightness: 3 })),
        // Unsigned garbage is refused for the limit, not the signature: no HMAC was computed.
        () => post(hook.url, "garbage", { "content-type": "text/plain" }),
      ]) {
        const limited = await attempt();
        assertError(limited, 429, "rate_limited");
        assert.ok(Number(limited.headers.get("retry-after")) >= 1);
      }
    });
    assert.equal(living.state("light").brightness, 1);
    // The limit is per hook.
    assert.equal((await signedCall(other.url, other.secret as string, setLight({ brightness: 4 }))).status, 200);
    const refusals = (await auditOf(bridge, "limited")).filter((e) => e.outcome === "rate_limited");
    assert.equal(refusals.length, 1, "a burst of refusals is audited once");
  });
});

describe("inbound webhooks (mosquitto)", () => {
  let cleanup: Cleanup;
  let bridge: TestBridge;
  let living: SimNode;

  before(async () => {
    ({ cleanup, bridge, living } = await startBridge("mosquitto", { publicUrl: "https://hearth.example.org/base/" }));
  });

  after(() => cleanup.run());

  test("a signed call runs on an external broker; URLs use publicUrl", async () => {
    const hook = await createHook(bridge, { name: "external", devices: [LIGHT] });
    assert.equal(hook.url, `https://hearth.example.org/base/hooks/${hook.id}`);
    const local = `${bridge.httpUrl}/hooks/${hook.id}`;
    const answer = await signedCall(local, hook.secret as string, setLight({ on: true, brightness: 66 }));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.results[0].state, living.state("light"));
    assert.equal(living.state("light").brightness, 66);
  });
});

describe("HookRateLimiter", () => {
  test("refills one call every 60/limit seconds and says when the next one is allowed", async () => {
    const { HookRateLimiter } = await import("../../src/webhooks/rate-limit.ts");
    let now = 1_000_000;
    const limiter = new HookRateLimiter(6, () => now);
    for (let i = 0; i < 6; i++) assert.deepEqual(limiter.take("a"), { allowed: true });
    assert.deepEqual(limiter.take("a"), { allowed: false, retryAfterS: 10, firstRefusal: true });
    now += 4_000;
    assert.deepEqual(limiter.take("a"), { allowed: false, retryAfterS: 6, firstRefusal: false });
    assert.deepEqual(limiter.take("b"), { allowed: true }, "each hook has its own bucket");
    now += 6_000;
    assert.deepEqual(limiter.take("a"), { allowed: true });
    assert.equal(limiter.take("a").allowed, false);
    now -= 60_000;
    assert.equal(limiter.take("a").allowed, false, "a clock stepped back refills nothing");
    now += 120_000;
    for (let i = 0; i < 6; i++) assert.equal(limiter.take("a").allowed, true, "the bucket holds one minute at most");
    assert.equal(limiter.take("a").allowed, false);
  });

  test("keyed by addresses an attacker chooses, it keeps 10,000 buckets and lets the least recent go", async () => {
    const { HookRateLimiter } = await import("../../src/webhooks/rate-limit.ts");
    const limiter = new HookRateLimiter(1, () => 5_000_000);
    assert.equal(limiter.take("old").allowed, true);
    assert.equal(limiter.take("old").allowed, false);
    assert.equal(limiter.take("busy").allowed, true);
    for (let i = 0; i < 9_998; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    assert.equal(limiter.take("busy").allowed, false, "a bucket in use stays");
    limiter.take("one-more");
    assert.equal(limiter.take("old").allowed, true, "the least recently used bucket was dropped, not kept forever");
    assert.equal(limiter.take("busy").allowed, false, "the recently used one is still there");
  });
});
