/**
 * A linked assistant that cannot be told about changes shows stale state: Hearth says so at every start,
 * and says nothing when the push side is configured.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { addClient } from "../../src/oauth/accounts.ts";
import { TestBridge } from "../helpers/bridge.ts";
import { FakeGoogle } from "../helpers/fake-google.ts";

const keyDir = mkdtempSync(join(tmpdir(), "hearth-warn-key-"));
after(() => rmSync(keyDir, { recursive: true, force: true }));

const warned = (bridge: TestBridge, platform: string) =>
  bridge.logs.lines.some(
    (l) =>
      l.level === 40 &&
      String(l.msg).startsWith(`a${platform === "Alexa" ? "n" : ""} ${platform} client is registered`),
  );

test("registered assistant clients without their push credentials are warned about at start", async () => {
  const bridge = await TestBridge.start("embedded");
  try {
    assert.ok(!warned(bridge, "Alexa") && !warned(bridge, "Google"), "no client, no warning");
    addClient(bridge.daemon.store, { platform: "alexa", vendorId: "M2XWARN1" });
    addClient(bridge.daemon.store, { platform: "google", projectId: "warn-home" });
    await bridge.restart();
    assert.ok(warned(bridge, "Alexa"), "Alexa without Skill Messaging credentials");
    assert.ok(warned(bridge, "Google"), "Google without a service-account key");
  } finally {
    await bridge.stop();
  }
});

test("with the credentials set there is nothing to warn about", async () => {
  const google = await FakeGoogle.start();
  const bridge = await TestBridge.start("embedded", {
    settings: {
      "alexa.clientId": "amzn1.application-oa2-client.x",
      "alexa.clientSecret": "secret",
      "google.serviceAccountKeyPath": google.writeServiceAccountKey(keyDir),
    },
  });
  try {
    addClient(bridge.daemon.store, { platform: "alexa", vendorId: "M2XWARN2" });
    addClient(bridge.daemon.store, { platform: "google", projectId: "warn-home-2" });
    await bridge.restart();
    assert.ok(!warned(bridge, "Alexa") && !warned(bridge, "Google"));
  } finally {
    await bridge.stop();
    await google.stop();
  }
});
