/**
 * How `hearth doctor` runs its checks: in parallel but reported in order, a hanging check cut off at its
 * time limit (and told to stop), a throwing check turned into an error finding, `--offline` and
 * inapplicable checks listed as skipped.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Check, finding, hasErrors, runChecks, Skip } from "../../src/doctor/check.ts";
import { DoctorContext } from "../../src/doctor/context.ts";

function context(offline = false): DoctorContext {
  return new DoctorContext({ env: {}, offline });
}

describe("doctor runner", () => {
  test("findings come out in the order of the checks, whatever order they finish in", async () => {
    const slow: Check = {
      id: "slow",
      run: async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return [finding("slow", "ok", "done late")];
      },
    };
    const fast: Check = { id: "fast", run: () => [finding("fast", "warn", "done early", "do something")] };
    const report = await runChecks([slow, fast], context());
    assert.deepEqual(
      report.checks.map((c) => c.id),
      ["slow", "fast"],
    );
    assert.equal(hasErrors(report), false);
  });

  test("a check that hangs is cut off at its limit, aborted, and reported as an error with a fix", async () => {
    let aborted = false;
    const hanging: Check = {
      id: "hangs",
      timeoutMs: 50,
      run: (_ctx, signal) =>
        new Promise(() => {
          signal.addEventListener("abort", () => {
            aborted = true;
          });
        }),
    };
    const other: Check = { id: "other", run: () => [finding("other", "ok", "fine")] };
    const started = Date.now();
    const report = await runChecks([hanging, other], context());
    assert.ok(Date.now() - started < 2000);
    assert.equal(aborted, true);
    assert.equal(report.checks[0]?.id, "hangs");
    assert.equal(report.checks[0]?.status, "error");
    assert.match(report.checks[0]?.message ?? "", /did not finish within 0\.05 s/);
    assert.match(report.checks[0]?.fix ?? "", /--offline/);
    assert.equal(report.checks[1]?.status, "ok");
    assert.equal(hasErrors(report), true);
  });

  test("a check that throws becomes an error finding", async () => {
    const broken: Check = {
      id: "broken",
      run: () => {
        throw new Error("boom");
      },
    };
    const report = await runChecks([broken], context());
    assert.equal(report.checks[0]?.status, "error");
    assert.match(report.checks[0]?.message ?? "", /failed unexpectedly: boom/);
  });

  test("--offline skips network checks without running them; a Skip is listed with its reason", async () => {
    let ran = false;
    const network: Check = {
      id: "remote",
      network: true,
      run: () => {
        ran = true;
        return [];
      },
    };
    const decided: Check = { id: "decided", network: () => false, run: () => [finding("decided", "ok", "local")] };
    const inapplicable: Check = { id: "nothing", run: () => new Skip("nothing to check") };
    const report = await runChecks([network, decided, inapplicable], context(true));
    assert.equal(ran, false);
    assert.deepEqual(report.skipped, [
      { id: "remote", reason: "--offline" },
      { id: "nothing", reason: "nothing to check" },
    ]);
    assert.deepEqual(
      report.checks.map((c) => c.id),
      ["decided"],
    );
  });

  test("an ok finding carries no fix", () => {
    assert.deepEqual(finding("x", "ok", "fine", "ignored"), { id: "x", status: "ok", message: "fine" });
    assert.deepEqual(finding("x", "warn", "hm", "do this"), { id: "x", status: "warn", message: "hm", fix: "do this" });
  });
});
