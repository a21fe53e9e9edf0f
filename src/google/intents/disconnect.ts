/**
 * DISCONNECT: the user unlinked Hearth in the Google Home app. Hearth stops reporting for them, revokes
 * the grant Google held (its tokens stop working at once), and says so in the link health and the audit
 * log. The answer is an empty object.
 */
import type { IntentContext, Principal } from "../context.ts";

export function disconnect(ctx: IntentContext, principal: Principal): Record<string, never> {
  const now = ctx.now();
  ctx.store.googleLinks.markDisconnected(principal.userId, now);
  ctx.store.grants.revokeGrant(principal.grantId, now);
  ctx.store.grants.recordLinkError(principal.userId, "google", "unlinked in the Google Home app", now, "unlinked");
  ctx.store.audit.record(
    { actor: `google:${principal.userId}`, action: "unlink", target: "google", outcome: "ok" },
    now,
  );
  ctx.log.info({ user: principal.userId }, "the user unlinked Google");
  return {};
}
