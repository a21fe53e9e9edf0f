/**
 * Claiming: a new board trades a one-time claim token (`hearth node claim-token`) for its MQTT credentials,
 * so that nobody has to type a password into firmware. The token is spent in the same durable transaction
 * that creates the credentials: a token is used exactly when a node got credentials with it.
 *
 * An unbound token may only claim a node id that does not exist yet: otherwise anyone holding a token could
 * take over a working board's identity. A token issued for one node (`--node`) may re-key that node, which
 * is how a board that was wiped is provisioned again.
 */
import { z } from "zod";
import type { Config } from "../config/index.ts";
import type { ClaimRefusal, Store } from "../store/index.ts";
import type { MosquittoAccounts } from "./mosquitto-accounts.ts";
import { addNode, NodeRegistryError, nodeIdProblem } from "./node-registry.ts";

export const CLAIM_TOKEN_DEFAULT_TTL_MINUTES = 10;
export const CLAIM_TOKEN_MAX_TTL_MINUTES = 24 * 60;

export const ClaimRequestSchema = z.object({
  node_id: z.string().max(64),
  claim_token: z.string().min(1).max(128),
});
export type ClaimRequest = z.infer<typeof ClaimRequestSchema>;

/** What the board stores: everything it needs to connect. */
export interface ClaimedCredentials {
  node_id: string;
  username: string;
  password: string;
  mqtt_url: string;
  topic_prefix: string;
}

export class ClaimError extends Error {
  override readonly name = "ClaimError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const REFUSALS: Record<ClaimRefusal, ClaimError> = {
  unknown: new ClaimError(401, "invalid_claim_token", "unknown claim token; create one with `hearth node claim-token`"),
  used: new ClaimError(410, "claim_token_used", "this claim token was already used; create a new one"),
  expired: new ClaimError(410, "claim_token_expired", "this claim token has expired; create a new one"),
  wrong_node: new ClaimError(403, "claim_token_wrong_node", "this claim token was issued for another node"),
};

export interface ClaimDeps {
  store: Store;
  config: Config;
  accounts?: MosquittoAccounts;
  embeddedPort?: () => number;
  /** Closes the old connection of a node that was re-keyed. */
  disconnectNode?: (nodeId: string) => void;
}

export async function claimNode(deps: ClaimDeps, request: ClaimRequest, now: number): Promise<ClaimedCredentials> {
  const { store, config } = deps;
  const problem = nodeIdProblem(request.node_id);
  if (problem) throw new ClaimError(400, "invalid_node_id", problem);
  const port = deps.embeddedPort?.();
  const spent = store.claimTokens.spend(request.claim_token, request.node_id, now, (boundToNode) => {
    if (!boundToNode && store.nodes.exists(request.node_id)) {
      // Thrown inside the transaction: the token stays unspent for the board it was meant for.
      throw new ClaimError(
        409,
        "node_exists",
        `node "${request.node_id}" is already registered; claim it again with a token from \`hearth node claim-token --node ${request.node_id}\``,
      );
    }
    return addNode(store, config, request.node_id, { rotate: true, now, ...(port ? { embeddedPort: port } : {}) });
  });
  if (!spent.ok) throw REFUSALS[spent.reason];
  const credentials = spent.value;
  if (!credentials) throw new NodeRegistryError("unknown_node", "no credentials were made");
  if (spent.boundToNode) deps.disconnectNode?.(request.node_id);
  await deps.accounts?.upsert(credentials.username, credentials.password);
  store.audit.record(
    {
      actor: `node:${request.node_id}`,
      action: "node_claim",
      target: request.node_id,
      outcome: "ok",
      detail: spent.boundToNode ? "re-keyed with a token issued for this node" : "new node",
    },
    now,
  );
  return {
    node_id: credentials.node_id,
    username: credentials.username,
    password: credentials.password,
    mqtt_url: credentials.mqtt_url,
    topic_prefix: config.mqtt.topicPrefix,
  };
}
