/**
 * `hearth doctor`: every check in the order the report shows them, roughly from the ground up (the
 * configuration, the files, the daemon and its broker, then the assistants and the nodes).
 */
import { alexaCheck, alexaLwaCheck } from "./alexa.ts";
import { brokerCheck, hearthCheck } from "./broker.ts";
import { type Check, type Report, runChecks } from "./check.ts";
import { configCheck } from "./config.ts";
import { DoctorContext, type DoctorOptions } from "./context.ts";
import { dataDirCheck } from "./data-dir.ts";
import { databaseCheck } from "./database.ts";
import { googleCheck, googleHomegraphCheck } from "./google.ts";
import { linksCheck } from "./links.ts";
import { mosquittoAccountsCheck } from "./mosquitto-accounts.ts";
import { nodesCheck } from "./nodes.ts";
import { oauthClientsCheck } from "./oauth-clients.ts";
import { publicUrlCheck, publicUrlReachCheck } from "./public-url.ts";

export type { Finding, Report, Status } from "./check.ts";
export { hasErrors } from "./check.ts";
export type { DoctorOptions } from "./context.ts";

export const CHECKS: readonly Check[] = [
  configCheck,
  dataDirCheck,
  databaseCheck,
  hearthCheck,
  brokerCheck,
  mosquittoAccountsCheck,
  oauthClientsCheck,
  publicUrlCheck,
  publicUrlReachCheck,
  alexaCheck,
  alexaLwaCheck,
  googleCheck,
  googleHomegraphCheck,
  nodesCheck,
  linksCheck,
];

/** Runs every check. Without a valid configuration only the config check can say anything useful. */
export async function runDoctor(options: DoctorOptions = {}): Promise<Report> {
  const ctx = new DoctorContext(options);
  try {
    if (!ctx.loaded) {
      const report = await runChecks([configCheck], ctx);
      for (const check of CHECKS) {
        if (check !== configCheck) report.skipped.push({ id: check.id, reason: "the configuration is invalid" });
      }
      return report;
    }
    return await runChecks(CHECKS, ctx);
  } finally {
    ctx.close();
  }
}
