/**
 * The example bodies of the Google conformance data (a dimmable colour light `light-1` and a lock `lock-1`
 * with PIN verification: SYNC, QUERY, EXECUTE with each two-factor step, DISCONNECT), replayed against a
 * light and a lock that match them. Each answer must pass Google's schemas and be the answer the matching
 * example response shows: the same status, error code and challenge, and the states of the same traits.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TwoFactor } from "../../src/google/two-factor.ts";
import { createLogger } from "../../src/log.ts";
import { PasswordHasher } from "../../src/oauth/passwords.ts";
import { deviceTemplate, type SimNode } from "../../src/sim/index.ts";
import { TestBridge } from "../helpers/bridge.ts";
import { assertGoogleResponse, googleFixturesDir, readJson } from "../helpers/conformance.ts";
import { addAndConnectNode, Cleanup } from "../helpers/integration.ts";
import { type LinkedAccount, linkAccount } from "../helpers/linking.ts";

const NODE = "fixture-house-1";
/** The fixtures' device ids and the devices that play them. */
const IDS: Record<string, string> = { "light-1": `${NODE}.light`, "lock-1": `${NODE}.lock` };
const FIXTURE_PIN = "4711";

const fixture = (name: string) => readJson(join(googleFixturesDir(), name)) as any;

/** For the acknowledgement examples: a second light, whose policy asks for a yes before every command. */
const ACK_IDS: Record<string, string> = { ...IDS, "light-1": `${NODE}.porch` };

/** The fixture with our device ids in place of its own. */
function adapt(body: any, ids: Record<string, string> = IDS): any {
  return JSON.parse(JSON.stringify(body).replace(/"(light-1|lock-1)"/g, (_m, id: string) => `"${ids[id]}"`));
}

describe("Google's example bodies replayed against a matching light and lock", () => {
  const cleanup = new Cleanup();
  let bridge: TestBridge;
  let sim: SimNode;
  let user: LinkedAccount;

  before(async () => {
    bridge = cleanup.add(
      await TestBridge.start("embedded", {
        settings: { devices: { [`${NODE}.porch`]: { twoFactor: "ack" } } },
      }),
      (b) => b.stop(),
    );
    ({ sim } = await addAndConnectNode(bridge, NODE, { devices: ["light", "lock", deviceTemplate("light", "porch")] }));
    cleanup.add(sim, (s) => s.close());
    user = await linkAccount(bridge.daemon.store, "fixtures", "google");
    await new TwoFactor({
      store: bridge.daemon.store,
      config: bridge.config,
      hasher: new PasswordHasher({ cost: { log2N: 10, r: 8, p: 1 } }),
      log: createLogger("silent"),
    }).setPin(user.userId, FIXTURE_PIN);
  });

  after(() => cleanup.run());

  async function replay(
    name: string,
    intent: "sync" | "query" | "execute" | "disconnect",
    ids: Record<string, string> = IDS,
    edit: (body: any) => void = () => undefined,
  ) {
    const request = fixture(name);
    edit(request);
    const response = await fetch(`${bridge.httpUrl}/google/fulfillment`, {
      method: "POST",
      headers: { "content-type": "application/json;charset=UTF-8", authorization: `Bearer ${user.accessToken}` },
      body: JSON.stringify(adapt(request, ids)),
    });
    assert.equal(response.status, 200, name);
    const body = (await response.json()) as any;
    assertGoogleResponse(intent, body);
    if (intent !== "disconnect") assert.equal(body.requestId, fixture(name).requestId, `${name}: requestId echoed`);
    return body;
  }

  /** Our EXECUTE result matches the example's: status, error code, challenge, and the keys of its states. */
  function sameOutcome(ours: any, example: any, name: string, ids: Record<string, string> = IDS) {
    const [mine] = ours.payload.commands;
    const [theirs] = adapt(example, ids).payload.commands;
    assert.deepEqual(mine.ids, theirs.ids, name);
    assert.equal(mine.status, theirs.status, `${name}: ${JSON.stringify(mine)}`);
    assert.equal(mine.errorCode, theirs.errorCode, name);
    assert.deepEqual(mine.challengeNeeded, theirs.challengeNeeded, name);
    for (const key of Object.keys(theirs.states ?? {})) assert.ok(key in (mine.states ?? {}), `${name}: ${key}`);
  }

  test("SYNC describes the light and the lock with the example's types and traits", async () => {
    const body = await replay("sync.request.json", "sync");
    const example = adapt(fixture("sync.response.json"));
    for (const expected of example.payload.devices) {
      const device = body.payload.devices.find((d: any) => d.id === expected.id);
      assert.ok(device, expected.id);
      assert.equal(device.type, expected.type);
      assert.deepEqual(device.traits, expected.traits);
      assert.equal(device.willReportState, true);
    }
  });

  test("QUERY reports the states the example reports", async () => {
    const body = await replay("query.request.json", "query");
    const example = adapt(fixture("query.response.json"));
    for (const [deviceId, states] of Object.entries<any>(example.payload.devices)) {
      for (const key of Object.keys(states)) assert.ok(key in body.payload.devices[deviceId], `${deviceId}: ${key}`);
    }
  });

  test("EXECUTE on the light: brightness and colour", async () => {
    const body = await replay("execute.light.request.json", "execute");
    sameOutcome(body, fixture("execute.light.response.json"), "execute.light");
    assert.equal(sim.state("light").brightness, 40);
  });

  test("an acknowledged command, after the light asked for a yes", async () => {
    await sim.press("porch", { on: true });
    const asked = await replay("execute.ack.request.ack.json", "execute", ACK_IDS, (body) => {
      delete body.inputs[0].payload.commands[0].execution[0].challenge;
    });
    sameOutcome(asked, fixture("execute.ack.response.ackNeeded.json"), "ackNeeded", ACK_IDS);
    const body = await replay("execute.ack.request.ack.json", "execute", ACK_IDS);
    assert.equal(body.payload.commands[0].status, "SUCCESS");
    assert.equal(sim.state("porch").on, false);
  });

  test("unlocking with the example's PIN steps: asked, wrong PIN, right PIN", async () => {
    sameOutcome(
      await replay("execute.lock.1.request.json", "execute"),
      fixture("execute.lock.1.response.pinNeeded.json"),
      "pinNeeded",
    );
    sameOutcome(
      await replay("execute.lock.2.request.wrongPin.json", "execute"),
      fixture("execute.lock.2.response.challengeFailedPinNeeded.json"),
      "challengeFailedPinNeeded",
    );
    assert.equal(sim.state("lock").locked, true);
    sameOutcome(
      await replay("execute.lock.4.request.pin.json", "execute"),
      fixture("execute.lock.4.response.success.json"),
      "success",
    );
    assert.equal(sim.state("lock").locked, false);
  });

  test("DISCONNECT answers the example's empty object", async () => {
    const body = await replay("disconnect.request.json", "disconnect");
    assert.deepEqual(body, fixture("disconnect.response.json"));
  });
});
