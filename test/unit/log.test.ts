/**
 * The logger itself: the fields REDACTED_PATHS names are censored wherever a component would put them,
 * the forwarder's header under the name the Alexa route really uses, and the level leaves out what is
 * below it. What components really log is test/integration/log-redaction.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FORWARDER_SECRET_HEADER } from "../../src/alexa/route.ts";
import { errorHandler } from "../../src/http/errors.ts";
import { createLogger } from "../../src/log.ts";
import { LogCapture } from "../helpers/bridge.ts";

test("every redacted path is censored, one level deep included", () => {
  const logs = new LogCapture();
  const log = createLogger("trace", logs);
  const value = (name: string) => `value-of-${name}-0123456789`;
  log.info({ password: value("password"), secret: value("secret"), token: value("token") }, "top level");
  log.info(
    {
      user: { password: value("user.password") },
      hook: { secret: value("hook.secret"), credential: value("hook.credential") },
      body: {
        token: value("body.token"),
        access_token: value("access_token"),
        refresh_token: value("refresh_token"),
        client_secret: value("client_secret"),
        claim_token: value("claim_token"),
      },
      key: { private_key: value("private_key") },
    },
    "nested",
  );
  log.info(
    {
      req: {
        headers: {
          authorization: value("authorization"),
          cookie: value("cookie"),
          [FORWARDER_SECRET_HEADER]: value("forwarder"),
        },
      },
      res: { headers: { "set-cookie": value("set-cookie") } },
    },
    "headers",
  );
  const text = logs.text();
  assert.doesNotMatch(text, /value-of-/);
  assert.equal(text.match(/\[redacted\]/g)?.length, 16);
});

test("the level leaves out what is below it, and silent writes nothing", () => {
  for (const [level, expected] of [
    ["trace", ["trace", "debug", "info", "warn", "error"]],
    ["info", ["info", "warn", "error"]],
    ["warn", ["warn", "error"]],
    ["silent", []],
  ] as const) {
    const logs = new LogCapture();
    const log = createLogger(level, logs);
    for (const method of ["trace", "debug", "info", "warn", "error"] as const) log[method](method);
    assert.deepEqual(
      logs.lines.map((line) => line.msg),
      expected,
      level,
    );
  }
});

test("an unexpected error in a firmware download is logged without the download's token", () => {
  const logs = new LogCapture();
  const handle = errorHandler(createLogger("trace", logs)) as unknown as (
    error: unknown,
    req: unknown,
    res: unknown,
    next: () => void,
  ) => void;
  const res = { headersSent: false, status: () => res, json: () => res };
  const token = "Jq8dSx2mVb0TnP4kLw7ZcYr1";
  handle(new Error("database is locked"), { method: "GET", path: `/ota/job-1/${token}` }, res, () => undefined);
  assert.equal(logs.lines[0]?.msg, "unhandled error in request");
  assert.equal(logs.lines[0]?.path, "/ota/job-1/…");
  assert.ok(!logs.text().includes(token));
});
