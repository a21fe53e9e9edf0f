/**
 * `link.changed` reaches subscribers: a user linking an assistant, Google's DISCONNECT and an ended link
 * are each delivered as one signed event with the user, the platform and the new state.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { verifyStandard } from "../../src/webhooks/signature.ts";
import { eventually, TestBridge } from "../helpers/bridge.ts";
import { linkAccount } from "../helpers/linking.ts";

let bridge: TestBridge;
const received: Array<{ body: string; headers: IncomingMessage["headers"] }> = [];
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: req.headers });
    res.writeHead(204).end();
  });
});
let secret: string;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  bridge = await TestBridge.start("embedded", { settings: { "webhooks.allowPrivateDestinations": true } });
  const created = await bridge.api("POST", "/api/v1/subscriptions", {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/links`,
    events: ["link.changed"],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  secret = created.body.secret;
});

after(async () => {
  await bridge.stop();
  server.close();
});

const events = () => received.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, string> });

test("linking, Google's DISCONNECT and an ended link are delivered as link.changed", async () => {
  const user = await linkAccount(bridge.daemon.store, "lena", "google");
  await eventually(() => events().some((e) => e.data.state === "linked"), 5000, "the linked event");
  const linked = events().find((e) => e.data.state === "linked");
  assert.deepEqual(linked?.data, { user: user.userId, platform: "google", state: "linked" });
  const request = received[0];
  assert.ok(request);
  assert.equal(
    verifyStandard(
      [secret],
      {
        id: request.headers["webhook-id"] as string,
        timestamp: request.headers["webhook-timestamp"] as string,
        signature: request.headers["webhook-signature"] as string,
      },
      Buffer.from(request.body),
      Math.floor(Date.now() / 1000),
    ),
    undefined,
    "signed",
  );

  const answer = await fetch(`${bridge.httpUrl}/google/fulfillment`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${user.accessToken}` },
    body: JSON.stringify({ requestId: "1", inputs: [{ intent: "action.devices.DISCONNECT" }] }),
  });
  assert.equal(answer.status, 200);
  await eventually(() => events().some((e) => e.data.state === "unlinked"), 5000, "the unlinked event");
  assert.deepEqual(
    events()
      .filter((e) => e.type === "link.changed")
      .map((e) => e.data.state),
    ["linked", "unlinked"],
    "one event per change",
  );
});
