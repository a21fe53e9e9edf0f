/**
 * Where a node is told to download its firmware from: ota.baseUrl, else publicUrl, else Hearth's own HTTP
 * address, which cannot be 0.0.0.0 or ::.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadConfig } from "../../src/config/index.ts";
import { otaBaseUrl, otaBaseUrlUnreachable } from "../../src/ota/service.ts";

function config(overrides: Record<string, unknown>) {
  return loadConfig({ env: {}, overrides }).config;
}

describe("the firmware download base URL", () => {
  test("ota.baseUrl comes first, without a trailing slash", () => {
    const c = config({ "ota.baseUrl": "http://192.168.1.10:8080/", publicUrl: "https://hearth.example.net" });
    assert.equal(otaBaseUrl(c, 8080), "http://192.168.1.10:8080");
    assert.equal(otaBaseUrlUnreachable(c), false);
  });

  test("then publicUrl", () => {
    assert.equal(otaBaseUrl(config({ publicUrl: "https://hearth.example.net/" }), 8080), "https://hearth.example.net");
  });

  test("then http.host with the port the server really listens on", () => {
    assert.equal(otaBaseUrl(config({ "http.port": 0 }), 41234), "http://127.0.0.1:41234");
    assert.equal(otaBaseUrl(config({ "http.host": "::1" }), 8080), "http://[::1]:8080");
  });

  test("0.0.0.0 and :: reach no node: only then is the default called unreachable", () => {
    assert.equal(otaBaseUrlUnreachable(config({ "http.host": "0.0.0.0" })), true);
    assert.equal(otaBaseUrlUnreachable(config({ "http.host": "::" })), true);
    assert.equal(otaBaseUrlUnreachable(config({ "http.host": "127.0.0.1" })), false);
    assert.equal(otaBaseUrlUnreachable(config({ "http.host": "0.0.0.0", publicUrl: "https://h.example" })), false);
  });
});
