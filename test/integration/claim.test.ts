/**
 * Claiming as a new board does it: `hearth node claim-token` gives a one-time token, the board posts it to
 * /api/v1/claim and gets MQTT credentials that work on the broker at once — on the embedded broker, and on
 * mosquitto, where Hearth writes the node's password line and reloads the broker itself. A token works once,
 * not after it expired, not for another node, and never takes over a registered node unless it was issued for it.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { BROKER_KINDS, TestBridge } from "../helpers/bridge.ts";
import { closeRawClient, connectRawClient, refusal } from "../helpers/integration.ts";
import { runProcess } from "../helpers/processes.ts";

const BIN = new URL("../../bin/hearth.js", import.meta.url).pathname;

async function claim(bridge: TestBridge, body: unknown, contentType = "application/json") {
  const response = await fetch(`${bridge.httpUrl}/api/v1/claim`, {
    method: "POST",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

function issue(bridge: TestBridge, options: { nodeId?: string; ttlMs?: number; now?: number } = {}): string {
  return bridge.daemon.store.claimTokens.issue({
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    ttlMs: options.ttlMs ?? 600_000,
    now: options.now ?? Date.now(),
  }).token;
}

for (const kind of BROKER_KINDS) {
  describe(`claiming a node (${kind})`, () => {
    let bridge: TestBridge;

    before(async () => {
      bridge = await TestBridge.start(kind, { brokerAccounts: true });
    });

    after(async () => {
      await bridge?.stop();
    });

    test("a token from the CLI buys credentials that log in at once, and only once", async () => {
      const cli = await runProcess(process.execPath, [BIN, "node", "claim-token", "--json"], {
        env: { ...process.env, HEARTH_DATA_DIR: bridge.dataDir, HEARTH_HTTP_PORT: "8080" },
      });
      assert.equal(cli.status, 0, cli.stderr);
      const printed = JSON.parse(cli.stdout);
      assert.match(printed.claim_token, /^hct_[A-Za-z0-9_-]{32}$/);
      assert.equal(printed.node_id, null);
      assert.equal(printed.claim_url, "http://127.0.0.1:8080/api/v1/claim");
      const expiresIn = Date.parse(printed.expires_at) - Date.now();
      assert.ok(expiresIn > 9 * 60_000 && expiresIn <= 10 * 60_000, `expires in ${expiresIn} ms`);

      const first = await claim(bridge, { node_id: "claim-board-1", claim_token: printed.claim_token });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.headers.get("cache-control"), "no-store");
      assert.deepEqual(Object.keys(first.body).sort(), ["mqtt_url", "node_id", "password", "topic_prefix", "username"]);
      assert.equal(first.body.node_id, "claim-board-1");
      assert.equal(first.body.username, "claim-board-1");
      assert.equal(first.body.topic_prefix, "hearth/v1");
      assert.equal(first.body.mqtt_url, bridge.mqttUrl);

      const client = await connectRawClient(bridge.mqttUrl, {
        username: "claim-board-1",
        password: first.body.password,
      });
      await closeRawClient(client);
      assert.ok(bridge.daemon.store.nodes.exists("claim-board-1"));

      const again = await claim(bridge, { node_id: "claim-board-9", claim_token: printed.claim_token });
      assert.equal(again.status, 410);
      assert.equal(again.body.error.code, "claim_token_used");
      assert.equal(bridge.daemon.store.nodes.exists("claim-board-9"), false);

      const audit = bridge.daemon.store.audit.list({ action: "node_claim" });
      assert.ok(audit.some((e) => e.target === "claim-board-1" && e.outcome === "ok"));
      assert.ok(audit.some((e) => e.target === "claim-board-9" && e.outcome === "claim_token_used"));
      assert.ok(!bridge.logs.text().includes(first.body.password), "the password is never logged");
      assert.ok(!bridge.logs.text().includes(printed.claim_token), "the token is never logged");
    });

    test("an expired, unknown or other node's token is refused with its own reason", async () => {
      const expired = issue(bridge, { ttlMs: 600_000, now: Date.now() - 601_000 });
      const outcome1 = await claim(bridge, { node_id: "claim-board-2", claim_token: expired });
      assert.deepEqual([outcome1.status, outcome1.body.error.code], [410, "claim_token_expired"]);

      const unknown = await claim(bridge, { node_id: "claim-board-2", claim_token: "hct_not-a-token" });
      assert.deepEqual([unknown.status, unknown.body.error.code], [401, "invalid_claim_token"]);

      const forOther = issue(bridge, { nodeId: "claim-board-3" });
      const wrong = await claim(bridge, { node_id: "claim-board-2", claim_token: forOther });
      assert.deepEqual([wrong.status, wrong.body.error.code], [403, "claim_token_wrong_node"]);
      // The refusal spent nothing: the board it was meant for still gets in.
      const right = await claim(bridge, { node_id: "claim-board-3", claim_token: forOther });
      assert.equal(right.status, 200);
      assert.equal(bridge.daemon.store.nodes.exists("claim-board-2"), false);
    });

    test("an unbound token cannot take over a registered node; one issued for it re-keys it", async () => {
      const original = await bridge.addNode("claim-board-4");
      const token = issue(bridge);
      const takeover = await claim(bridge, { node_id: "claim-board-4", claim_token: token });
      assert.deepEqual([takeover.status, takeover.body.error.code], [409, "node_exists"]);
      // Still unspent: it works for a new board.
      const fresh = await claim(bridge, { node_id: "claim-board-5", claim_token: token });
      assert.equal(fresh.status, 200);
      // The node's own credentials still work.
      await closeRawClient(
        await connectRawClient(bridge.mqttUrl, { username: "claim-board-4", password: original.password }),
      );

      const rekey = await claim(bridge, {
        node_id: "claim-board-4",
        claim_token: issue(bridge, { nodeId: "claim-board-4" }),
      });
      assert.equal(rekey.status, 200);
      assert.notEqual(rekey.body.password, original.password);
      await closeRawClient(
        await connectRawClient(bridge.mqttUrl, { username: "claim-board-4", password: rekey.body.password }),
      );
      assert.notEqual(await refusal(bridge.mqttUrl, { username: "claim-board-4", password: original.password }), 0);
    });

    test("bad requests get a JSON error and spend nothing", async () => {
      const token = issue(bridge);
      const badId = await claim(bridge, { node_id: "Bad Id!", claim_token: token });
      assert.deepEqual([badId.status, badId.body.error.code], [400, "invalid_node_id"]);
      const reserved = await claim(bridge, { node_id: "bridge", claim_token: token });
      assert.deepEqual([reserved.status, reserved.body.error.code], [400, "invalid_node_id"]);
      const missing = await claim(bridge, { node_id: "claim-board-6" });
      assert.deepEqual([missing.status, missing.body.error.code], [400, "invalid_request"]);
      const notJson = await claim(bridge, "{not json");
      assert.equal(notJson.status, 400);
      assert.ok(notJson.body.error.code);
      const form = await claim(bridge, "node_id=x", "application/x-www-form-urlencoded");
      assert.deepEqual([form.status, form.body.error.code], [415, "unsupported_media_type"]);
      const ok = await claim(bridge, { node_id: "claim-board-6", claim_token: token });
      assert.equal(ok.status, 200);
    });

    if (kind === "mosquitto") {
      test("Hearth keeps the broker's other lines and removes the node's line with the node", async () => {
        const bridgeLine = (await readFile(bridge.mosquitto?.passwordFile as string, "utf8"))
          .split("\n")
          .find((l) => l.startsWith("hearth_bridge:"));
        const token = issue(bridge);
        const claimed = await claim(bridge, { node_id: "claim-board-7", claim_token: token });
        assert.equal(claimed.status, 200);
        const text = await readFile(bridge.mosquitto?.passwordFile as string, "utf8");
        assert.ok(bridgeLine && text.includes(bridgeLine), "the bridge's own line is untouched");
        assert.equal(text.split("\n").filter((l) => l.startsWith("claim-board-7:")).length, 1);

        const removed = await bridge.api("DELETE", "/api/v1/nodes/claim-board-7");
        assert.equal(removed.status, 204);
        assert.ok(!(await readFile(bridge.mosquitto?.passwordFile as string, "utf8")).includes("claim-board-7:"));
        await eventuallyRefused(bridge, "claim-board-7", claimed.body.password);
      });
    }

    test("repeated failures from one address are locked out before any token is looked up", async () => {
      // Earlier tests used some of this address's budget; the lock comes at the tenth failure.
      let status = 0;
      for (let i = 0; i < 12 && status !== 429; i++) {
        status = (await claim(bridge, { node_id: "claim-board-8", claim_token: `hct_guess-${i}` })).status;
      }
      assert.equal(status, 429);
      const valid = await claim(bridge, { node_id: "claim-board-8", claim_token: issue(bridge) });
      assert.equal(valid.status, 429, "even a valid token waits out the lock");
      assert.equal(valid.body.error.code, "too_many_attempts");
    });
  });
}

async function eventuallyRefused(bridge: TestBridge, username: string, password: string): Promise<void> {
  const deadline = Date.now() + 3000;
  for (;;) {
    try {
      assert.notEqual(await refusal(bridge.mqttUrl, { username, password }), 0);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
