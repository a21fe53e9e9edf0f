/**
 * `/healthz` for monitoring (no token needed): 200 with the database and the broker link checked, 503 once the
 * link is gone; and every unknown route answers 404 in the API's JSON error shape.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { addAndConnectNode } from "../helpers/integration.ts";

interface Health {
  status: string;
  version: string;
  database: { ok: boolean };
  mqtt: { connected: boolean; mode: string };
}

async function health(bridge: TestBridge): Promise<{ status: number; type: string; body: Health }> {
  const response = await fetch(`${bridge.httpUrl}/healthz`);
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    body: (await response.json()) as Health,
  };
}

for (const kind of BROKER_KINDS) {
  describe(`health and unknown routes (${kind})`, () => {
    let bridge: TestBridge;

    before(async () => {
      bridge = await TestBridge.start(kind);
    });

    after(async () => {
      await bridge?.stop();
    });

    test("/healthz is 200 with the database ok and the broker link connected", async () => {
      const { status, type, body } = await health(bridge);
      assert.equal(status, 200);
      assert.match(type, /application\/json/);
      assert.equal(body.status, "ok");
      assert.equal(typeof body.version, "string");
      assert.deepEqual(body.database, { ok: true });
      assert.deepEqual(body.mqtt, { connected: true, mode: kind === "embedded" ? "embedded" : "external" });
    });

    test("unknown routes are 404 with a JSON error", async () => {
      for (const [method, path] of [
        ["GET", "/"],
        ["GET", "/nope"],
        ["POST", "/healthz"],
        ["GET", "/api/v2/devices"],
        ["GET", "/api/v1/nope"],
        ["DELETE", "/api/v1/devices"],
      ] as const) {
        const response = await bridge.api(method, path);
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.match(response.headers.get("content-type") ?? "", /application\/json/);
        assert.equal(response.body.error.code, "not_found", `${method} ${path}`);
        assert.equal(typeof response.body.error.message, "string");
      }
      // The admin API checks the token before it says what exists.
      const anonymous = await fetch(`${bridge.httpUrl}/api/v1/nope`);
      assert.equal(anonymous.status, 401);
      assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, "unauthorized");
    });

    test("/healthz is 503 and commands fail at once while the broker is down", async (t) => {
      // A bridge of its own: the broker does not come back.
      const own = await TestBridge.start(kind);
      t.after(() => own.stop());
      const { sim } = await addAndConnectNode(own, "hlz-house-1", { devices: ["switch"], reconnectPeriodMs: 100 });
      t.after(() => sim.close());

      if (own.mosquitto) await own.mosquitto.stop();
      else await own.daemon.broker?.stop();

      const down = await eventually(
        async () => {
          const result = await health(own);
          return result.status === 503 ? result : undefined;
        },
        3000,
        "/healthz to report the lost link",
      );
      assert.equal(down.body.status, "degraded");
      assert.equal(down.body.mqtt.connected, false);
      assert.deepEqual(down.body.database, { ok: true });

      const startedAt = Date.now();
      const command = await own.api("POST", "/api/v1/devices/hlz-house-1.switch/commands", { params: { on: true } });
      assert.equal(command.status, 503, JSON.stringify(command.body));
      assert.equal(command.body.error.code, "bridge_unavailable");
      assert.ok(Date.now() - startedAt < 500, "answered without waiting for the deadline");
    });
  });
}
