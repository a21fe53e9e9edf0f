/**
 * The whole Alexa path short of Amazon: the shipped Lambda forwarder (skills/alexa-smarthome/lambda) runs
 * in-process, as the Lambda runtime would call it, against the real daemon on loopback. Amazon: "Smart
 * home skills must be hosted as an AWS Lambda function"; whatever the Lambda returns is what Alexa hears,
 * so every answer must pass Amazon's schema, including the ones the forwarder builds itself.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { handler } from "../../skills/alexa-smarthome/lambda/index.mjs";
import type { SimNode } from "../../src/sim/index.ts";
import { type AlexaAccount, directive, linkAlexaAccount } from "../helpers/alexa.ts";
import { BROKER_KINDS, TestBridge } from "../helpers/bridge.ts";
import { assertAlexaMessage } from "../helpers/conformance.ts";
import { addAndConnectNode, Cleanup } from "../helpers/integration.ts";

const NODE = "lambda-house-1";
const SECRET = "forwarder-secret-0123456789abcdef";
const SETTINGS = ["HEARTH_URL", "HEARTH_FORWARDER_SECRET", "HEARTH_TIMEOUT_MS"] as const;

for (const kind of BROKER_KINDS) {
  describe(`the Lambda forwarder in front of the daemon (${kind})`, () => {
    const cleanup = new Cleanup();
    const saved = Object.fromEntries(SETTINGS.map((name) => [name, process.env[name]]));
    let bridge: TestBridge;
    let sim: SimNode;
    let alice: AlexaAccount;

    before(async () => {
      bridge = cleanup.add(await TestBridge.start(kind, { settings: { "alexa.forwarderSecret": SECRET } }), (b) =>
        b.stop(),
      );
      ({ sim } = await addAndConnectNode(bridge, NODE, { devices: ["light"] }));
      cleanup.add(sim, (s) => s.close());
      alice = await linkAlexaAccount(bridge.daemon.store, "alice");
      process.env.HEARTH_URL = bridge.httpUrl;
      process.env.HEARTH_FORWARDER_SECRET = SECRET;
      process.env.HEARTH_TIMEOUT_MS = "3000";
    });

    after(async () => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await cleanup.run();
    });

    const invoke = async (body: unknown) => {
      const answer = (await handler(body)) as any;
      assertAlexaMessage(answer);
      return answer;
    };

    test("Discover and a control directive go through and come back as Hearth answered", async () => {
      const discovered = await invoke(directive("Alexa.Discovery", "Discover", { token: alice.accessToken }));
      assert.deepEqual(
        discovered.event.payload.endpoints.map((e: any) => e.endpointId),
        [`${NODE}:light`],
      );
      const on = await invoke(
        directive("Alexa.PowerController", "TurnOn", { token: alice.accessToken, endpointId: `${NODE}:light` }),
      );
      assert.equal(on.event.header.name, "Response");
      assert.equal(sim.state("light").on, true);
      const power = on.context.properties.find((p: any) => p.name === "powerState");
      assert.equal(power.value, "ON");
    });

    test("a refused token reaches Alexa as Hearth's INVALID_AUTHORIZATION_CREDENTIAL", async () => {
      const answer = await invoke(directive("Alexa", "ReportState", { token: "stale", endpointId: `${NODE}:light` }));
      assert.equal(answer.event.payload.type, "INVALID_AUTHORIZATION_CREDENTIAL");
    });

    test("a forwarder with the wrong secret is refused by Hearth, and Alexa still gets a valid answer", async () => {
      process.env.HEARTH_FORWARDER_SECRET = "wrong-secret-0123456789abcdef";
      try {
        const answer = await invoke(
          directive("Alexa", "ReportState", { token: alice.accessToken, endpointId: `${NODE}:light` }),
        );
        assert.equal(answer.event.payload.type, "INTERNAL_ERROR");
        assert.match(answer.event.payload.message, /secret/);
      } finally {
        process.env.HEARTH_FORWARDER_SECRET = SECRET;
      }
    });
  });
}
