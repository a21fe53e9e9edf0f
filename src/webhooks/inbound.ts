/**
 * Inbound webhook calls, independent of HTTP: prove the request comes from the hook's sender (a Standard
 * Webhooks or GitHub signature over the raw bytes, or the URL token of an unsigned hook), refuse a
 * delivery seen before, then read the body, check every device and scene against the hook's allow-list
 * and every command against its device, and only then run anything. Nothing runs unless everything is
 * allowed and valid. Every call, accepted or refused, is written to the audit log with its reason, never
 * with a secret, token or signature.
 */
import { z } from "zod";
import type { DeviceState } from "../bus.ts";
import type { CommandService } from "../devices/commands.ts";
import type { Logger } from "../log.ts";
import { CommandError, validateCommand } from "../model/index.ts";
import {
  MAX_SCENE_ACTIONS,
  runActions,
  SCENE_ID_PATTERN,
  type SceneActionResult,
  SceneActionSchema,
  SceneError,
  type SceneService,
} from "../scenes/index.ts";
import { newId, verifySecret } from "../security/secrets.ts";
import type { HookKeys, HookRecord, Store } from "../store/index.ts";
import { verifyGithub, verifyStandard } from "./signature.ts";

/** What a call asks for: device commands, or one scene. */
export const HookCallSchema = z
  .strictObject({
    actions: z.array(SceneActionSchema).min(1).max(MAX_SCENE_ACTIONS).optional(),
    scene: z.string().regex(SCENE_ID_PATTERN, "not a scene id").optional(),
  })
  .refine((call) => (call.actions === undefined) !== (call.scene === undefined), {
    message: 'give either "actions" or "scene"',
  });
export type HookCall = z.infer<typeof HookCallSchema>;

/** One action's outcome, as the caller and the audit log see it. */
export interface HookActionResult {
  device: string;
  /** `accepted`: the node took the command and reports the outcome later as state (a slow actuator). */
  status: "ok" | "accepted" | "error";
  /** The state the node confirmed. */
  state?: DeviceState;
  error?: { code: string; message: string };
}

/** The parts of an HTTP request a call is judged on. */
export interface InboundRequest {
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
  /** The `token` query parameter (unsigned hooks). */
  token: string | undefined;
  /** Whether the body was declared as JSON (Content-Type: application/json). */
  isJson: boolean;
  /** The body exactly as it arrived. */
  body: Buffer;
}

export interface HookAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type AuthScheme = "standard" | "github" | "token";

interface Authenticated {
  scheme: AuthScheme;
  /** The sender's id of this delivery, when the scheme has one: the key that refuses a replay. */
  deliveryId?: string;
  /** GitHub's event name (`ping` when a webhook is created there). */
  githubEvent?: string;
}

/** Why a call is refused, and how the caller is told. */
export interface HookRefusal {
  status: number;
  code: string;
  message: string;
  /** Extra fields of the error object (`param`, `results`). */
  extra?: Record<string, unknown>;
}

function isRefusal(value: object): value is HookRefusal {
  return "code" in value;
}

/** Audit entries stay readable: the detail of a large call is cut here. */
const MAX_AUDIT_DETAIL = 1000;

const SIGNATURE_HELP =
  "sign the request with the hook's secret: Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) or GitHub's X-Hub-Signature-256";

export function errorAnswer(refusal: HookRefusal, headers?: Record<string, string>): HookAnswer {
  return {
    status: refusal.status,
    body: { error: { code: refusal.code, message: refusal.message, ...refusal.extra } },
    ...(headers ? { headers } : {}),
  };
}

/** Which scheme the request uses, and whether it proves itself. */
function authenticate(
  hook: HookRecord,
  keys: HookKeys,
  request: InboundRequest,
  nowS: number,
): Authenticated | HookRefusal {
  if (hook.mode === "token") {
    if (!request.token) {
      return {
        status: 401,
        code: "missing_signature",
        message: `this hook takes its token in the URL: /hooks/${hook.id}?token=…`,
      };
    }
    // Both sides are SHA-256 hashes compared in constant time: the token's length or prefix leaks nothing.
    if (keys.tokenHash === null || !verifySecret(request.token, keys.tokenHash)) {
      return { status: 401, code: "bad_signature", message: "the token is not this hook's" };
    }
    return { scheme: "token" };
  }

  const id = request.header("webhook-id");
  const timestamp = request.header("webhook-timestamp");
  const signature = request.header("webhook-signature");
  if (id !== undefined || timestamp !== undefined || signature !== undefined) {
    const failure = verifyStandard(keys.secrets, { id, timestamp, signature }, request.body, nowS);
    if (failure === "missing_headers") {
      return {
        status: 401,
        code: "missing_signature",
        message: "webhook-id, webhook-timestamp and webhook-signature are all required",
      };
    }
    if (failure === "stale_timestamp") {
      return {
        status: 401,
        code: "stale_timestamp",
        message: "webhook-timestamp is not within 5 minutes of Hearth's clock",
      };
    }
    if (failure === "bad_signature") {
      return { status: 401, code: "bad_signature", message: "no signature in webhook-signature matches" };
    }
    return { scheme: "standard", deliveryId: id as string };
  }

  const hubSignature = request.header("x-hub-signature-256");
  if (hubSignature !== undefined) {
    if (!verifyGithub(keys.secrets, hubSignature, request.body)) {
      return { status: 401, code: "bad_signature", message: "X-Hub-Signature-256 does not match" };
    }
    const delivery = request.header("x-github-delivery");
    const event = request.header("x-github-event");
    return {
      scheme: "github",
      ...(delivery ? { deliveryId: delivery } : {}),
      ...(event ? { githubEvent: event } : {}),
    };
  }
  return { status: 401, code: "missing_signature", message: SIGNATURE_HELP };
}

function parseCall(request: InboundRequest): HookCall | HookRefusal {
  if (!request.isJson) {
    return {
      status: 415,
      code: "unsupported_media_type",
      message: "send the body as JSON with Content-Type: application/json",
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(request.body.toString("utf8"));
  } catch {
    return { status: 400, code: "invalid_json", message: "the request body is not valid JSON" };
  }
  const parsed = HookCallSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return { status: 400, code: "invalid_body", message: `${where}${issue?.message ?? "not a hook call"}` };
}

function toHookResult(result: SceneActionResult): HookActionResult {
  if (result.status === "error") {
    return {
      device: result.device,
      status: "error",
      error: { code: result.code ?? "internal", message: result.message ?? "failed" },
    };
  }
  return { device: result.device, status: result.status, ...(result.state ? { state: result.state } : {}) };
}

function overall(results: readonly HookActionResult[]): "ok" | "partial" | "error" {
  const failed = results.filter((result) => result.status === "error").length;
  return failed === 0 ? "ok" : failed === results.length ? "error" : "partial";
}

function describeResults(results: readonly HookActionResult[]): string {
  return results
    .map((result) => `${result.device} ${result.status}${result.error ? ` ${result.error.code}` : ""}`)
    .join(", ");
}

function describeScheme(auth: Authenticated): string {
  if (auth.scheme === "standard") return `standard webhook-id ${auth.deliveryId}`;
  if (auth.scheme === "github") return auth.deliveryId ? `github delivery ${auth.deliveryId}` : "github";
  return "token";
}

export interface InboundHooksOptions {
  store: Store;
  commands: CommandService;
  scenes: SceneService;
  log: Logger;
  now?: () => number;
}

export class InboundHooks {
  private readonly now: () => number;

  constructor(private readonly options: InboundHooksOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Judges one call of a hook and, if everything checks out, runs it. Every outcome is an answer. */
  async call(hook: HookRecord, request: InboundRequest): Promise<HookAnswer> {
    const { store } = this.options;
    const keys = store.hooks.keys(hook.id);
    if (!keys) return errorAnswer(unknownHook());
    const auth = authenticate(hook, keys, request, Math.floor(this.now() / 1000));
    if (isRefusal(auth)) return this.refuse(hook, auth);
    store.hooks.touch(hook.id, this.now());
    const via = describeScheme(auth);

    // GitHub pings a webhook when it is created there; a genuine ping is answered so it shows as delivered.
    if (auth.githubEvent === "ping") {
      this.audit(hook, "ping", via);
      return { status: 200, body: { status: "ok", results: [] } };
    }

    const call = parseCall(request);
    if (isRefusal(call)) return this.refuse(hook, call, via);
    const refusal = this.checkAllowed(hook, call) ?? this.checkCommands(call);
    if (refusal) return this.refuse(hook, refusal, via);

    if (auth.deliveryId !== undefined && !store.hooks.recordDelivery(hook.id, auth.deliveryId, this.now())) {
      return this.refuse(
        hook,
        { status: 409, code: "replay", message: "this delivery id was accepted before; it runs only once" },
        via,
      );
    }

    const what = call.scene !== undefined ? `scene ${call.scene}` : `${call.actions?.length} actions`;
    if (hook.async) {
      const trackingId = newId();
      this.audit(hook, "queued", `${via}; ${what}; tracking ${trackingId}`);
      void this.execute(hook, call).then(
        (results) => this.audit(hook, outcomeOf(results), `tracking ${trackingId}; ${describeResults(results)}`),
        (error: unknown) => {
          const failure = this.failure(hook, error);
          this.audit(hook, failure.code, `tracking ${trackingId}; ${failure.message}`);
        },
      );
      return { status: 202, body: { tracking_id: trackingId } };
    }

    let results: HookActionResult[];
    try {
      results = await this.execute(hook, call);
    } catch (error) {
      if (auth.deliveryId !== undefined) store.hooks.forgetDelivery(hook.id, auth.deliveryId);
      return this.refuse(hook, this.failure(hook, error), via);
    }
    const status = overall(results);
    this.audit(hook, outcomeOf(results), `${via}; ${what}; ${describeResults(results)}`);
    if (status !== "error") return { status: 200, body: { status, results } };
    // Nothing was achieved: let the sender's retry of this delivery run again rather than be a replay.
    if (auth.deliveryId !== undefined) store.hooks.forgetDelivery(hook.id, auth.deliveryId);
    const code = call.scene !== undefined ? "scene_failed" : "actions_failed";
    return errorAnswer({ status: 502, code, message: "every action failed", extra: { results } });
  }

  /** Refuses a call and audits why; the route refuses with it too (a body too large, too many calls). */
  refuse(hook: HookRecord, refusal: HookRefusal, detail?: string, headers?: Record<string, string>): HookAnswer {
    this.audit(hook, refusal.code, detail ? `${detail}; ${refusal.message}` : refusal.message);
    return errorAnswer(refusal, headers);
  }

  /**
   * A call that failed as a whole rather than action by action: its scene was removed after the check, or
   * something unexpected, which is logged here and reaches the caller as a bare `internal`.
   */
  private failure(hook: HookRecord, error: unknown): HookRefusal {
    if (error instanceof SceneError) return { status: 404, code: error.code, message: error.message };
    this.options.log.error({ err: error, hook: hook.name }, "a hook call failed unexpectedly");
    return { status: 500, code: "internal", message: "internal error" };
  }

  /** Every device and scene the call names must be on the hook's allow-list. */
  private checkAllowed(hook: HookRecord, call: HookCall): HookRefusal | undefined {
    if (call.scene !== undefined) {
      if (hook.scenes.includes(call.scene)) return undefined;
      return { status: 403, code: "not_allowed", message: `this hook may not activate scene "${call.scene}"` };
    }
    const refused = [...new Set((call.actions ?? []).map((a) => a.device))].filter((d) => !hook.devices.includes(d));
    if (refused.length === 0) return undefined;
    const names = refused.map((device) => `"${device}"`).join(", ");
    return { status: 403, code: "not_allowed", message: `this hook may not command ${names}`, extra: { refused } };
  }

  /**
   * Every command is checked against its device before anything runs, so one bad action stops the whole
   * call. A device that is not declared right now is left to fail on its own (as `unknown_device`): its
   * node may simply not have announced it yet.
   */
  private checkCommands(call: HookCall): HookRefusal | undefined {
    const { store, scenes } = this.options;
    if (call.scene !== undefined) {
      if (scenes.get(call.scene)) return undefined;
      return { status: 404, code: "unknown_scene", message: `no scene "${call.scene}"` };
    }
    for (const [index, action] of (call.actions ?? []).entries()) {
      const device = store.devices.get(action.device);
      if (!device?.present) continue;
      try {
        validateCommand(device.definition, action.op ?? "set", action.params ?? {});
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        return {
          status: 400,
          code: error.code,
          message: `actions[${index}] (${action.device}): ${error.message}`,
          extra: error.param ? { param: error.param } : {},
        };
      }
    }
    return undefined;
  }

  private async execute(hook: HookRecord, call: HookCall): Promise<HookActionResult[]> {
    const actor = `hook:${hook.name}`;
    if (call.scene !== undefined) {
      const activation = await this.options.scenes.activate(call.scene, actor);
      return activation.results.map(toHookResult);
    }
    const results = await runActions(this.options.commands, call.actions ?? [], actor, this.options.log);
    return results.map(toHookResult);
  }

  private audit(hook: HookRecord, outcome: string, detail: string): void {
    const text = detail.length > MAX_AUDIT_DETAIL ? `${detail.slice(0, MAX_AUDIT_DETAIL - 1)}…` : detail;
    try {
      this.options.store.audit.record(
        { actor: `hook:${hook.name}`, action: "hook_call", target: hook.id, outcome, detail: text },
        this.now(),
      );
    } catch (error) {
      // A queued call may finish while Hearth shuts down and the store is closed.
      this.options.log.warn({ err: (error as Error).message, hook: hook.name }, "could not audit a hook call");
    }
    this.options.log.info({ hook: hook.name, outcome }, "hook call");
  }
}

function outcomeOf(results: readonly HookActionResult[]): string {
  const status = overall(results);
  return status === "error" ? "failed" : status;
}

/** The one answer for a hook id that does not exist: it says nothing more than that. */
export function unknownHook(): HookRefusal {
  return { status: 404, code: "unknown_hook", message: "no such hook" };
}
