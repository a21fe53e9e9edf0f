/**
 * Playing Alexa against a running bridge: a linked Alexa account, directives built the way Alexa sends
 * them, and a caller that checks every answer against Amazon's schema before a test looks at it.
 */
import { randomUUID } from "node:crypto";
import type { Store } from "../../src/store/index.ts";
import type { TestBridge } from "./bridge.ts";
import { assertAlexaMessage } from "./conformance.ts";
import { type LinkedAccount, linkAccount } from "./linking.ts";

export type AlexaAccount = LinkedAccount;

/** A user who linked the Alexa skill. */
export function linkAlexaAccount(store: Store, username: string): Promise<AlexaAccount> {
  return linkAccount(store, username, "alexa");
}

export interface DirectiveOptions {
  endpointId?: string;
  token?: string;
  payload?: Record<string, unknown>;
  instance?: string;
  correlationToken?: string | null;
}

/** A directive as Alexa sends it; Discover carries the token in the payload, the others in the endpoint. */
export function directive(namespace: string, name: string, options: DirectiveOptions = {}) {
  const discover = namespace === "Alexa.Discovery";
  const scope = { type: "BearerToken", token: options.token ?? "no-token" };
  return {
    directive: {
      header: {
        namespace,
        name,
        payloadVersion: "3",
        messageId: randomUUID(),
        ...(discover || options.correlationToken === null
          ? {}
          : { correlationToken: options.correlationToken ?? `ct-${randomUUID()}` }),
        ...(options.instance ? { instance: options.instance } : {}),
      },
      ...(options.endpointId === undefined ? {} : { endpoint: { scope, endpointId: options.endpointId, cookie: {} } }),
      payload: discover ? { scope, ...options.payload } : (options.payload ?? {}),
    },
  };
}

export interface AlexaAnswer {
  status: number;
  body: any;
}

/** Posts a body to the bridge's Alexa route and checks the answer against Amazon's schema. */
export async function callAlexa(
  bridge: TestBridge,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<AlexaAnswer> {
  const response = await fetch(`${bridge.httpUrl}/alexa/smarthome`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = JSON.parse(text);
  assertAlexaMessage(parsed);
  return { status: response.status, body: parsed };
}

/** The `context.properties` entry of one property, or undefined. */
export function property(answer: AlexaAnswer, namespace: string, name: string): any {
  return answer.body.context?.properties?.find((p: any) => p.namespace === namespace && p.name === name);
}

export function errorType(answer: AlexaAnswer): string | undefined {
  return answer.body.event.header.name === "ErrorResponse" ? answer.body.event.payload.type : undefined;
}
