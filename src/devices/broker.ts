/**
 * The embedded MQTT broker (aedes, MQTT 3.1.1) for installations without their own mosquitto. Every
 * node authenticates with its own credentials (client id = username = node id) and may only publish
 * and subscribe inside its own `<prefix>/<node>/…` subtree, plus subscribe to the bridge's status —
 * the same policy as the mosquitto ACL in docs/mosquitto.md.
 */

import { timingSafeEqual } from "node:crypto";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { Aedes, AuthenticateError, Client, PublishPacket, Subscription } from "aedes";
import type { Logger } from "../log.ts";
import { FailureLimiter } from "../security/failure-limiter.ts";
import { verifySecret } from "../security/secrets.ts";
import { isValidNodeId, type Topics } from "./protocol.ts";

/** A publish larger than this is not a protocol message: the connection is closed. */
const MAX_PUBLISH_BYTES = 64 * 1024;
const BAD_CREDENTIALS = 4;
const CREDENTIAL_RECHECK_MS = 1000;
const NOT_AUTHORIZED = 5;

export interface BrokerCredentials {
  username: string;
  password: string;
}

export interface NodeAuthority {
  /** The stored hash of a node's MQTT password, or undefined for an unknown node. */
  secretHash(nodeId: string): string | undefined;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  topics: Topics;
  nodes: NodeAuthority;
  /** The bridge's own account; the password is random per process and never leaves it. */
  bridge: BrokerCredentials;
  maxKeepaliveSeconds: number;
  log: Logger;
}

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class EmbeddedBroker {
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly failures = new FailureLimiter(10, 60_000);
  /** The credential hash each node connected with; a publish after it changed closes the connection. */
  private readonly credentialAtConnect = new WeakMap<Client, string>();
  private readonly credentialCheckedAt = new WeakMap<Client, number>();
  private address: AddressInfo | undefined;

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  get port(): number {
    return this.address?.port ?? 0;
  }

  /** URL for local clients (the bridge's own link, `hearth sim`). */
  get url(): string {
    const host = this.options.host === "0.0.0.0" || this.options.host === "::" ? "127.0.0.1" : this.options.host;
    return `mqtt://${host.includes(":") ? `[${host}]` : host}:${this.port}`;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    const { log } = this.options;
    // Imported here rather than at the top: with an external broker (mqtt.url) aedes is never needed, and
    // importing it costs a start about 140 ms and 13 MiB of memory (measured alone).
    const { Aedes } = await import("aedes");
    const aedes = await Aedes.createBroker({
      keepaliveLimit: this.options.maxKeepaliveSeconds,
      maxClientsIdLength: 64,
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => done(this.checkPublish(client, packet)),
      authorizeSubscribe: (client, sub, done) => done(null, this.checkSubscribe(client, sub)),
    });
    aedes.on("clientError", (client, error) =>
      log.debug({ client: client.id, err: error.message }, "mqtt client error"),
    );
    aedes.on("connectionError", (_client, error) => log.debug({ err: error.message }, "mqtt connection error"));
    this.aedes = aedes;
    const server = createServer({ noDelay: true }, (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      aedes.handle(socket);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.address = server.address() as AddressInfo;
    log.info({ url: this.url }, "embedded MQTT broker listening");
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const ip = (client.conn as Partial<Socket>).remoteAddress ?? "unknown";
    if (this.failures.isLocked(ip)) {
      done(authError(NOT_AUTHORIZED, "too many failed attempts"), false);
      return;
    }
    const refuse = (code: number, reason: string) => {
      this.failures.recordFailure(ip);
      // A user name that is no node id may be a password typed into the wrong field: never logged as is.
      const shown =
        username === undefined || username === this.options.bridge.username || isValidNodeId(username)
          ? username
          : "(not a node id)";
      this.options.log.warn({ clientId: client.id, username: shown, ip, reason }, "mqtt connection refused");
      done(authError(code, reason), false);
    };
    if (!username || !password) {
      refuse(NOT_AUTHORIZED, "anonymous clients are not allowed");
      return;
    }
    const secret = password.toString("utf8");
    if (username === this.options.bridge.username) {
      if (!sameSecret(secret, this.options.bridge.password)) {
        refuse(BAD_CREDENTIALS, "bad bridge password");
        return;
      }
      done(null, true);
      return;
    }
    if (!isValidNodeId(username)) {
      refuse(BAD_CREDENTIALS, "not a valid node id");
      return;
    }
    if (client.id !== username) {
      refuse(NOT_AUTHORIZED, "client id must equal the node id");
      return;
    }
    const hash = this.options.nodes.secretHash(username);
    // Unknown node and wrong password look the same to the client.
    if (!hash || !verifySecret(secret, hash)) {
      refuse(BAD_CREDENTIALS, hash ? "wrong password" : "unknown node");
      return;
    }
    this.failures.reset(ip);
    this.credentialAtConnect.set(client, hash);
    done(null, true);
  }

  private isBridge(client: Client | null): boolean {
    // The broker's own will publishes (client null) come from clients already checked at connect.
    return client !== null && client.id === this.options.bridge.username;
  }

  private checkPublish(client: Client | null, packet: PublishPacket): Error | null {
    const { topics } = this.options;
    if (packet.topic.startsWith("$SYS")) return new Error("$SYS topics are reserved");
    if (packet.payload && packet.payload.length > MAX_PUBLISH_BYTES) return new Error("message too large");
    if (client === null) return null;
    if (this.isBridge(client))
      return packet.topic.startsWith(`${topics.prefix}/`) ? null : new Error("outside the prefix");
    const own = `${topics.prefix}/${client.id}/`;
    if (!packet.topic.startsWith(own)) {
      this.options.log.warn(
        { node: client.id, topic: packet.topic },
        "node published outside its own topics; disconnected",
      );
      return new Error("not authorised for this topic");
    }
    // A node removed, or given a new password, while connected loses its right to publish. Checked at
    // most once a second per connection: a database read on every publish would double its cost.
    const now = Date.now();
    const checkedAt = this.credentialCheckedAt.get(client) ?? 0;
    if (now - checkedAt >= CREDENTIAL_RECHECK_MS) {
      const current = this.options.nodes.secretHash(client.id);
      if (!current || current !== this.credentialAtConnect.get(client)) return new Error("node removed or re-keyed");
      this.credentialCheckedAt.set(client, now);
    }
    return null;
  }

  private checkSubscribe(client: Client, sub: Subscription): Subscription | null {
    const { topics } = this.options;
    if (this.isBridge(client)) return sub.topic.startsWith(`${topics.prefix}/`) ? sub : null;
    if (sub.topic === topics.bridgeStatus || sub.topic.startsWith(`${topics.prefix}/${client.id}/`)) return sub;
    this.options.log.warn({ node: client.id, topic: sub.topic }, "node subscription refused");
    return null;
  }

  /** Closes a node's connection (after its removal); its will is published as for any lost node. */
  disconnect(nodeId: string): void {
    const clients = (this.aedes as unknown as { clients: Record<string, Client> } | undefined)?.clients;
    clients?.[nodeId]?.close();
  }

  async stop(): Promise<void> {
    const { server, aedes } = this;
    this.server = undefined;
    this.aedes = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of this.sockets) socket.destroy();
      });
    }
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
}
