/**
 * What a doctor check is and how the checks run: each on its own, in parallel, under a time limit, so that
 * one hanging network check cannot hang the command, and one that throws becomes an error finding rather
 * than a stack trace. The findings come out in the order of the checks, whatever order they finished in.
 */
import type { DoctorContext } from "./context.ts";

export type Status = "ok" | "warn" | "error";

/** One line of the report. `id` names the check that found it; a check may give several findings. */
export interface Finding {
  id: string;
  status: Status;
  message: string;
  /** A command to run or a setting to change; absent for `ok`. */
  fix?: string;
}

/** A check that does not apply here, and why (e.g. `--offline`, or no database to read). */
export interface Skipped {
  id: string;
  reason: string;
}

export interface Check {
  id: string;
  /**
   * True when the check talks to something off this machine (Amazon, Google, the public URL, a remote
   * broker): `--offline` skips it. A function decides from the config.
   */
  network?: boolean | ((ctx: DoctorContext) => boolean);
  /** The longest the check may take; its own network timeouts are shorter. */
  timeoutMs?: number;
  /** Findings, or the reason the check does not apply. */
  run(ctx: DoctorContext, signal: AbortSignal): Promise<Finding[] | Skip> | Finding[] | Skip;
}

export class Skip {
  constructor(readonly reason: string) {}
}

export const DEFAULT_CHECK_TIMEOUT_MS = 15_000;

/** The fix when the doctor runs as another user than Hearth: docs/deploy.md's wrapper runs it as Hearth's. */
export const AS_HEARTH =
  "run hearth doctor as the user Hearth runs as, with its settings (on a server set up as in docs/deploy.md: sudo hearth doctor)";

export interface Report {
  checks: Finding[];
  skipped: Skipped[];
}

export function finding(id: string, status: Status, message: string, fix?: string): Finding {
  return { id, status, message, ...(fix === undefined || status === "ok" ? {} : { fix }) };
}

async function runOne(check: Check, ctx: DoctorContext): Promise<Finding[] | Skip> {
  const controller = new AbortController();
  const limitMs = check.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Finding[]>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve([
        finding(
          check.id,
          "error",
          `the check did not finish within ${limitMs / 1000} s`,
          "something it waits for hangs (a DNS lookup, a half-open connection); run with --offline to leave out the network checks",
        ),
      ]);
    }, limitMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => check.run(ctx, controller.signal)), timedOut]);
  } catch (error) {
    return [
      finding(
        check.id,
        "error",
        `the check failed unexpectedly: ${(error as Error)?.message ?? String(error)}`,
        "run again with HEARTH_DEBUG=1 and report the output",
      ),
    ];
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check that applies; `offline` leaves out the ones that leave the machine. */
export async function runChecks(checks: readonly Check[], ctx: DoctorContext): Promise<Report> {
  const outcomes = await Promise.all(
    checks.map(async (check): Promise<Finding[] | Skip> => {
      const network = typeof check.network === "function" ? check.network(ctx) : check.network === true;
      if (network && ctx.offline) return new Skip("--offline");
      return runOne(check, ctx);
    }),
  );
  const report: Report = { checks: [], skipped: [] };
  outcomes.forEach((outcome, i) => {
    const id = (checks[i] as Check).id;
    if (outcome instanceof Skip) report.skipped.push({ id, reason: outcome.reason });
    else report.checks.push(...outcome);
  });
  return report;
}

export function hasErrors(report: Report): boolean {
  return report.checks.some((check) => check.status === "error");
}
