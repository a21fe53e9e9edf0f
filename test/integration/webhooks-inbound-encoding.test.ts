/**
 * A body that cannot be read — a corrupt compressed body — is a 400 in the API's error shape, audited like
 * any refused call, never a 500.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TestBridge } from "../helpers/bridge.ts";

let bridge: TestBridge;
before(async () => {
  bridge = await TestBridge.start("embedded");
});
after(() => bridge.stop());

test("a corrupt gzip body is refused as invalid_body", async () => {
  const created = await bridge.api("POST", "/api/v1/hooks", { name: "zipped", devices: ["any-1.light"] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const response = await fetch(created.body.url.replace(/^https?:\/\/[^/]+/, bridge.httpUrl), {
    method: "POST",
    headers: { "content-type": "application/json", "content-encoding": "gzip" },
    body: Buffer.from("definitely not gzip"),
  });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: { code: string } };
  assert.equal(body.error.code, "invalid_body");
  const audit = await bridge.api("GET", "/api/v1/audit?action=hook_call");
  assert.ok(JSON.stringify(audit.body).includes("invalid_body"), "the refusal is audited");
});
