/**
 * Google, when a Google client is registered.
 *
 * - `google`: `google.serviceAccountKeyPath` names a readable key file that only its owner may read, and
 *   the file is a service-account key HomeGraph can use (read by the same code as HomeGraph's); a key of
 *   another project than the Google client's is refused by HomeGraph.
 * - `google.homegraph` (online): the key is traded for an access token at its token_uri, and HomeGraph
 *   takes it. The probe is a Report State for a user nobody linked, with no device: HomeGraph answers 404
 *   when the key and the project are right, 403 PERMISSION_DENIED when the API is off or the key is of
 *   another project, and nothing about anyone's home changes.
 */
import { statSync } from "node:fs";
import { HomeGraph, readServiceAccountKey } from "../google/homegraph.ts";
import { createLogger } from "../log.ts";
import { type Check, type Finding, finding, Skip } from "./check.ts";
import type { DoctorContext } from "./context.ts";
import { googleProjectIds } from "./oauth-clients.ts";

const SETTING = "google.serviceAccountKeyPath";
const GUIDE = "skills/google/README.md";
const NEW_KEY = `create a JSON key for the service account (${GUIDE} step 6) and point ${SETTING} at it`;
const PROBE_USER = "hearth-doctor-probe";

function googleProjects(ctx: DoctorContext): string[] | Skip {
  const store = ctx.store();
  if (!store) return new Skip(ctx.storeUnavailable());
  const clients = store.oauthClients.list().filter((client) => client.platform === "google");
  if (clients.length === 0) return new Skip("no Google client is registered");
  return googleProjectIds(clients);
}

export const googleCheck: Check = {
  id: "google",
  async run(ctx) {
    const projects = googleProjects(ctx);
    if (projects instanceof Skip) return projects;
    const path = ctx.config.google.serviceAccountKeyPath;
    if (!path) {
      return [
        finding(
          "google",
          "warn",
          `${SETTING} is not set: Google can control devices, but gets no Report State (stale state in the Google Home app) and no Request Sync`,
          `enable the HomeGraph API and create a service-account key (${GUIDE} steps 5 and 6), then set HEARTH_GOOGLE_SERVICE_ACCOUNT_KEY_PATH to its path`,
        ),
      ];
    }
    const findings: Finding[] = [];
    try {
      const mode = statSync(path).mode & 0o777;
      if ((mode & 0o004) !== 0) {
        findings.push(
          finding(
            "google",
            "error",
            `the service-account key ${path} is readable by every user (mode ${mode.toString(8).padStart(4, "0")}): whoever reads it can report for every user of the integration`,
            `chmod 600 ${path} (owned by the user Hearth runs as)`,
          ),
        );
      }
    } catch {
      // readServiceAccountKey says what is wrong with a file that cannot be examined.
    }
    const key = await readServiceAccountKey(path);
    if (!key.ok) {
      findings.push(finding("google", "error", `${SETTING} (${path}): ${key.problem}`, NEW_KEY));
      return findings;
    }
    const { projectId, email } = key.account;
    if (projectId !== undefined && projects.length > 0 && !projects.includes(projectId)) {
      findings.push(
        finding(
          "google",
          "warn",
          `the service-account key is of project ${projectId}, the Google client of ${projects.join(", ")}: HomeGraph refuses keys of another project (403)`,
          `create the key in the Google Cloud project ${projects[0]} (${GUIDE} steps 5 and 6)`,
        ),
      );
    }
    if (findings.length === 0) {
      findings.push(
        finding("google", "ok", `service-account key ${path}: ${email}${projectId ? `, project ${projectId}` : ""}`),
      );
    }
    return findings;
  },
};

export const googleHomegraphCheck: Check = {
  id: "google.homegraph",
  network: true,
  async run(ctx) {
    const projects = googleProjects(ctx);
    if (projects instanceof Skip) return projects;
    const path = ctx.config.google.serviceAccountKeyPath;
    if (!path) return new Skip(`${SETTING} is not set`);
    if (!(await readServiceAccountKey(path)).ok) return new Skip("the key file cannot be used (see google)");
    const homegraph = new HomeGraph({ config: ctx.config.google, log: createLogger("silent") });
    const outcome = await homegraph.reportState(PROBE_USER, {});
    if (outcome.ok || outcome.reason === "not_found") {
      return [
        finding(
          "google.homegraph",
          "ok",
          "the service-account key gets an access token and HomeGraph accepts it (a probe for an unknown user was answered as expected)",
        ),
      ];
    }
    if (outcome.reason === "permission_denied" && outcome.status === undefined) {
      return [
        finding(
          "google.homegraph",
          "error",
          outcome.message,
          `the key was deleted or disabled, or this machine's clock is wrong (timedatectl): ${NEW_KEY}`,
        ),
      ];
    }
    if (outcome.reason === "permission_denied") {
      return [
        finding(
          "google.homegraph",
          "error",
          outcome.message,
          `enable the HomeGraph API in the Google Cloud project of the integration and use a key of a service account of that project (${GUIDE} steps 5 and 6, where the account gets the role Service Account Token Creator)`,
        ),
      ];
    }
    if (outcome.reason === "unavailable") {
      return [
        finding(
          "google.homegraph",
          "error",
          outcome.message,
          "this machine must reach oauth2.googleapis.com and homegraph.googleapis.com over HTTPS (DNS, firewall, proxy); run with --offline to skip this check",
        ),
      ];
    }
    return [
      finding(
        "google.homegraph",
        "warn",
        `HomeGraph answered the probe unexpectedly: ${outcome.message}`,
        "leave google.homegraphUrl at its default and try again later",
      ),
    ];
  },
};
