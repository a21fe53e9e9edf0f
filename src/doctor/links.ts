/**
 * Account links (what `hearth links` shows), as problems to act on: a link whose tokens stopped working
 * (Hearth's refresh token expired, Amazon refusing the event-gateway tokens, Google answering 404 to a
 * report), a skill disabled while the link lives on, a linked Alexa user without the event permission.
 * Links their users ended are history, counted but not reported.
 */
import type { AlexaGrantSummary, GoogleLinkSummary, LinkRecord, Store } from "../store/index.ts";
import { type Check, type Finding, finding, Skip } from "./check.ts";
import type { DoctorContext } from "./context.ts";

const ID = "links";
const ALEXA_RELINK =
  "in the Alexa app, disable the skill and enable it again, then sign in to Hearth (docs/account-linking.md)";
const GOOGLE_RELINK =
  'in the Google Home app, unlink the integration and link it again (docs/account-linking.md); after a 404, "Hey Google, sync my devices" may be enough';

function alexaLink(ctx: DoctorContext, link: LinkRecord, events: AlexaGrantSummary | undefined): Finding | undefined {
  const who = `${link.userName}'s Alexa link`;
  if (events?.state === "unauthorized") {
    return finding(
      ID,
      "error",
      `${who}: Amazon refuses its event-gateway tokens (${events.lastError ?? "no reason recorded"}); no ChangeReports reach Alexa`,
      ALEXA_RELINK,
    );
  }
  if (events?.state === "disabled") {
    return finding(
      ID,
      "warn",
      `${who}: the skill was disabled in the Alexa app (${events.lastError ?? "SKILL_DISABLED"})`,
      `nothing to do if ${link.userName} meant it; otherwise ${ALEXA_RELINK}`,
    );
  }
  if (link.lastError) {
    return finding(ID, "error", `${who}: ${link.lastError}`, ALEXA_RELINK);
  }
  if (!events && ctx.config.alexa.clientId) {
    return finding(
      ID,
      "warn",
      `${who}: Amazon never granted the event permission, so no ChangeReports are sent for this user`,
      `turn on Send Alexa Events in the skill's permissions, then ${ALEXA_RELINK}`,
    );
  }
  if (events?.lastError) {
    return finding(
      ID,
      "warn",
      `${who}: the last event failed: ${events.lastError}`,
      "see alexa.lwa; if it repeats, relink",
    );
  }
  return undefined;
}

function googleLink(link: LinkRecord, reports: GoogleLinkSummary | undefined): Finding | undefined {
  const who = `${link.userName}'s Google link`;
  if (reports?.state === "broken") {
    return finding(
      ID,
      "error",
      `${who} is broken: ${reports.lastError ?? "HomeGraph no longer takes reports for this user"}; Report State is stopped for this user`,
      GOOGLE_RELINK,
    );
  }
  if (link.lastError) return finding(ID, "error", `${who}: ${link.lastError}`, GOOGLE_RELINK);
  if (reports?.lastError) {
    return finding(
      ID,
      "warn",
      `${who}: the last report failed: ${reports.lastError}`,
      "see google.homegraph; if it repeats, relink",
    );
  }
  return undefined;
}

function unlinkedPlatforms(store: Store, links: readonly LinkRecord[]): Finding[] {
  const platforms = new Set(store.oauthClients.list().map((client) => client.platform));
  const findings: Finding[] = [];
  for (const [platform, name] of [
    ["alexa", "Alexa"],
    ["google", "Google"],
  ] as const) {
    if (!platforms.has(platform) || links.some((link) => link.platform === platform && link.active)) continue;
    findings.push(
      finding(
        ID,
        "warn",
        `a ${name} client is registered, but no user has linked ${name}`,
        `hearth user add <name>, then link Hearth in the ${name === "Alexa" ? "Alexa" : "Google Home"} app (docs/account-linking.md)`,
      ),
    );
  }
  return findings;
}

export const linksCheck: Check = {
  id: ID,
  run(ctx) {
    const store = ctx.store();
    if (!store) return new Skip(ctx.storeUnavailable());
    const links = store.grants.links();
    const events = new Map(store.alexaGrants.list().map((grant) => [grant.userId, grant]));
    const reports = new Map(store.googleLinks.list().map((link) => [link.userId, link]));
    const findings: Finding[] = unlinkedPlatforms(store, links);
    const active = links.filter((link) => link.active);
    for (const link of active) {
      const found =
        link.platform === "alexa"
          ? alexaLink(ctx, link, events.get(link.userId))
          : link.platform === "google"
            ? googleLink(link, reports.get(link.userId))
            : link.lastError
              ? finding(ID, "warn", `${link.userName}'s ${link.platform} link: ${link.lastError}`, "link again")
              : undefined;
      if (found) findings.push(found);
    }
    if (findings.length === 0 && links.length > 0) {
      const ended = links.length - active.length;
      findings.push(
        finding(
          ID,
          "ok",
          `${active.length} account link(s) healthy${ended > 0 ? `, ${ended} ended by their users` : ""}`,
        ),
      );
    }
    return findings;
  },
};
