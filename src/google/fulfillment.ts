/**
 * The Google fulfillment dispatcher: parses the request, runs the intent and wraps the answer with the
 * request's id. Whatever goes wrong — a malformed body, an intent Hearth does not know, an unexpected
 * failure — Google gets its own error shape (`payload.errorCode`), never a stack trace.
 */
import type { EventBus } from "../bus.ts";
import { ArrivalWatcher } from "../devices/arrival.ts";
import type { IntentContext, Principal } from "./context.ts";
import { GoogleError } from "./errors.ts";
import { disconnect } from "./intents/disconnect.ts";
import { execute } from "./intents/execute.ts";
import { query } from "./intents/query.ts";
import { sync } from "./intents/sync.ts";
import { FulfillmentRequestSchema, INTENTS } from "./messages.ts";

export type FulfillmentDeps = Omit<IntentContext, "arrivals" | "now"> & {
  bus: EventBus;
  now?: () => number;
};

export interface FulfillmentAnswer {
  /** 200 for everything Google should read; 400 for a body that is not a fulfillment request at all. */
  status: number;
  body: Record<string, unknown>;
}

export class GoogleFulfillment {
  private readonly context: IntentContext;

  constructor(deps: FulfillmentDeps) {
    const { bus, now, ...rest } = deps;
    this.context = { ...rest, arrivals: new ArrivalWatcher(bus, deps.store), now: now ?? Date.now };
  }

  stop(): void {
    this.context.arrivals.stop();
  }

  async handle(body: unknown, principal: Principal): Promise<FulfillmentAnswer> {
    const parsed = FulfillmentRequestSchema.safeParse(body);
    if (!parsed.success) {
      const requestId = (body as { requestId?: unknown } | null)?.requestId;
      return {
        status: 400,
        body: {
          ...(typeof requestId === "string" ? { requestId } : {}),
          payload: { errorCode: "protocolError", debugString: "the body is not a smart-home fulfillment request" },
        },
      };
    }
    const { requestId, inputs } = parsed.data;
    const input = inputs[0] as (typeof inputs)[number];
    try {
      const payload = await this.dispatch(input.intent, input.payload, principal);
      // DISCONNECT is answered with an empty object, not an envelope.
      return { status: 200, body: input.intent === INTENTS.disconnect ? payload : { requestId, payload } };
    } catch (error) {
      if (error instanceof GoogleError) {
        return { status: 200, body: { requestId, payload: { errorCode: error.code, debugString: error.message } } };
      }
      this.context.log.error({ err: error, intent: input.intent }, "a Google intent failed unexpectedly");
      return { status: 200, body: { requestId, payload: { errorCode: "unknownError" } } };
    }
  }

  private async dispatch(intent: string, payload: unknown, principal: Principal): Promise<Record<string, unknown>> {
    switch (intent) {
      case INTENTS.sync:
        return sync(this.context, principal);
      case INTENTS.query:
        return query(this.context, payload);
      case INTENTS.execute:
        return execute(this.context, principal, payload);
      case INTENTS.disconnect:
        return disconnect(this.context, principal);
      default:
        throw new GoogleError("protocolError", `unknown intent ${intent.slice(0, 64)}`);
    }
  }
}
