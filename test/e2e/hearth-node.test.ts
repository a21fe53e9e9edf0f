/**
 * End to end with the firmware's own core: `firmware/build/hearth-node` (the code an ESP32 runs, built for
 * Linux) claims itself with a one-time token, connects to the embedded broker or to Debian's mosquitto, and
 * is then driven the way users drive a board — the admin API, an Alexa directive, a Google EXECUTE, a button
 * on the board — through a real daemon. A killed node goes offline; a restarted one gets what was asked for
 * it while it was away.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { callAlexa, directive, errorType, linkAlexaAccount, property } from "../helpers/alexa.ts";
import { BROKER_KINDS, eventually, TestBridge } from "../helpers/bridge.ts";
import { assertGoogleResponse } from "../helpers/conformance.ts";
import { claimedNode, claimToken, HearthNode, ONLINE } from "../helpers/hearth-node.ts";
import { getDevice, getNode, listDevices } from "../helpers/integration.ts";
import { linkAccount } from "../helpers/linking.ts";

for (const kind of BROKER_KINDS) {
  describe(`hearth-node against the daemon (${kind})`, () => {
    let bridge: TestBridge;
    const nodes: HearthNode[] = [];

    before(async () => {
      bridge = await TestBridge.start(kind, { brokerAccounts: true });
    });

    after(async () => {
      for (const node of nodes) await node.stop();
      await bridge?.stop();
    });

    async function board(nodeId: string): Promise<HearthNode> {
      const node = await claimedNode(bridge, nodeId);
      nodes.push(node);
      return node;
    }

    test("a claimed board appears with a relay, a dimmable LED and a climate sensor", async () => {
      const nodeId = `e2e-${kind}-1`;
      await board(nodeId);
      const devices = await eventually(async () => {
        const list = await listDevices(bridge, nodeId);
        return list.length === 3 && list.every((d) => d.online) ? list : undefined;
      });
      assert.deepEqual(
        devices.map((d) => [d.id, d.type]),
        [
          [`${nodeId}.climate`, "sensor"],
          [`${nodeId}.led`, "light"],
          [`${nodeId}.relay`, "switch"],
        ],
      );
      const climate = devices.find((d) => d.dev_id === "climate");
      assert.equal(typeof climate?.state.temperature_c, "number");
      assert.equal(typeof climate?.state.humidity_pct, "number");
      const node = await getNode(bridge, nodeId);
      assert.equal(node?.fw_version, "1.0.0");
      assert.equal(node?.online, true);
    });

    test("a used or expired claim token is refused and the board says why", async () => {
      const used = claimToken(bridge);
      const first = await HearthNode.start([
        "--node-id",
        `e2e-${kind}-2`,
        "--claim",
        bridge.httpUrl,
        "--claim-token",
        used,
      ]);
      nodes.push(first);
      await first.waitFor(ONLINE, 8000);

      const second = await HearthNode.start([
        "--node-id",
        `e2e-${kind}-3`,
        "--claim",
        bridge.httpUrl,
        "--claim-token",
        used,
      ]);
      const reused = await second.exited;
      await second.stop();
      assert.equal(reused.code, 3, second.logs());
      assert.match(second.logs(), /already used/);

      const expired = claimToken(bridge, { ageMs: 601_000 });
      const third = await HearthNode.start([
        "--node-id",
        `e2e-${kind}-3`,
        "--claim",
        bridge.httpUrl,
        "--claim-token",
        expired,
      ]);
      const outcome = await third.exited;
      await third.stop();
      assert.equal(outcome.code, 3, third.logs());
      assert.match(third.logs(), /expired/);
      assert.equal(bridge.daemon.store.nodes.exists(`e2e-${kind}-3`), false);
    });

    test("commands round-trip through the admin API with the state the board confirmed", async () => {
      const nodeId = `e2e-${kind}-4`;
      await board(nodeId);
      const relay = await bridge.api("POST", `/api/v1/devices/${nodeId}.relay/commands`, { params: { on: true } });
      assert.equal(relay.status, 200, JSON.stringify(relay.body));
      assert.equal(relay.body.state.on, true);
      const led = await bridge.api("POST", `/api/v1/devices/${nodeId}.led/commands`, {
        params: { on: true, brightness: 40 },
      });
      assert.equal(led.status, 200, JSON.stringify(led.body));
      assert.deepEqual({ on: led.body.state.on, brightness: led.body.state.brightness }, { on: true, brightness: 40 });
      // The bridge validates against what the board declared: the LED dims from 1 to 100 %.
      const tooDim = await bridge.api("POST", `/api/v1/devices/${nodeId}.led/commands`, { params: { brightness: 0 } });
      assert.equal(tooDim.status, 400);
      assert.equal(tooDim.body.error.code, "out_of_range");
      const reading = await bridge.api("POST", `/api/v1/devices/${nodeId}.climate/commands`, { op: "get" });
      assert.equal(reading.status, 200);
      assert.equal(typeof reading.body.state.temperature_c, "number");
    });

    test("a button on the board reaches the bridge as the new state", async () => {
      const nodeId = `e2e-${kind}-5`;
      const node = await board(nodeId);
      await eventually(async () => (await getDevice(bridge, `${nodeId}.relay`)).state.on === false);
      node.send("press relay");
      await eventually(async () => (await getDevice(bridge, `${nodeId}.relay`)).state.on === true);
    });

    test("Alexa turns the relay on and dims the LED, answered with the board's state", async () => {
      const nodeId = `e2e-${kind}-6`;
      await board(nodeId);
      const alexa = await linkAlexaAccount(bridge.daemon.store, `alexa-${kind}`);
      const on = await callAlexa(
        bridge,
        directive("Alexa.PowerController", "TurnOn", { endpointId: `${nodeId}:relay`, token: alexa.accessToken }),
      );
      assert.equal(errorType(on), undefined, JSON.stringify(on.body));
      assert.equal(property(on, "Alexa.PowerController", "powerState")?.value, "ON");
      const dim = await callAlexa(
        bridge,
        directive("Alexa.BrightnessController", "SetBrightness", {
          endpointId: `${nodeId}:led`,
          token: alexa.accessToken,
          payload: { brightness: 25 },
        }),
      );
      assert.equal(errorType(dim), undefined, JSON.stringify(dim.body));
      assert.equal(property(dim, "Alexa.BrightnessController", "brightness")?.value, 25);
      assert.equal((await getDevice(bridge, `${nodeId}.led`)).state.brightness, 25);
    });

    test("Google turns the relay off and the LED on in one EXECUTE", async () => {
      const nodeId = `e2e-${kind}-7`;
      await board(nodeId);
      const google = await linkAccount(bridge.daemon.store, `google-${kind}`, "google");
      const body = {
        requestId: "8812349876",
        inputs: [
          {
            intent: "action.devices.EXECUTE",
            payload: {
              commands: [
                {
                  devices: [{ id: `${nodeId}.relay` }],
                  execution: [{ command: "action.devices.commands.OnOff", params: { on: false } }],
                },
                {
                  devices: [{ id: `${nodeId}.led` }],
                  execution: [{ command: "action.devices.commands.BrightnessAbsolute", params: { brightness: 70 } }],
                },
              ],
            },
          },
        ],
      };
      const response = await fetch(`${bridge.httpUrl}/google/fulfillment`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${google.accessToken}` },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200);
      const answer = (await response.json()) as any;
      assertGoogleResponse("execute", answer);
      const byDevice = new Map<string, any>();
      for (const command of answer.payload.commands) for (const id of command.ids) byDevice.set(id, command);
      assert.equal(byDevice.get(`${nodeId}.relay`)?.status, "SUCCESS", JSON.stringify(answer));
      assert.equal(byDevice.get(`${nodeId}.relay`)?.states.on, false);
      assert.equal(byDevice.get(`${nodeId}.led`)?.status, "SUCCESS", JSON.stringify(answer));
      assert.equal(byDevice.get(`${nodeId}.led`)?.states.brightness, 70);
    });

    test("kill -9 marks the board offline; restarted, it gets what was asked for it while away", async () => {
      const nodeId = `e2e-${kind}-8`;
      const node = await board(nodeId);
      node.kill("SIGKILL");
      await node.exited;
      await eventually(
        async () => (await getNode(bridge, nodeId))?.online === false,
        5000,
        "the will marks it offline",
      );
      const whileAway = await bridge.api("POST", `/api/v1/devices/${nodeId}.relay/commands`, { params: { on: true } });
      assert.equal(whileAway.status, 503);
      assert.equal(whileAway.body.error.code, "offline");

      // The same board boots again from its flash (the claimed credentials), with its relay off.
      const again = await HearthNode.start(["--node-id", nodeId, "--fw-version", "1.0.0"], { stateDir: node.stateDir });
      nodes.push(again);
      await again.waitFor(ONLINE, 8000);
      await eventually(
        async () => (await getDevice(bridge, `${nodeId}.relay`)).state.on === true,
        5000,
        "the desired on is re-applied",
      );
      const log = await bridge.api("GET", `/api/v1/commands?device=${nodeId}.relay`);
      assert.ok(
        log.body.some((c: any) => c.actor === "resync" && c.status === "ok"),
        "the bridge re-sent it as a resync",
      );
    });

    test("a clean stop publishes offline at once", async () => {
      const nodeId = `e2e-${kind}-9`;
      const node = await board(nodeId);
      const exit = await node.stop({ keepState: false });
      assert.equal(exit.code, 0, node.logs());
      await eventually(async () => (await getNode(bridge, nodeId))?.online === false, 2000);
    });
  });
}
