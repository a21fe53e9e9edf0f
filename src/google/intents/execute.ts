/**
 * EXECUTE: every command of the request, on every device it names, run in parallel; each device's
 * commands are merged into one canonical command (brightness and colour in one request are one MQTT
 * message). The answer carries the state the node confirmed, grouped by outcome as Google allows:
 * `SUCCESS`, `PENDING` for a slow actuator still moving at the deadline (its arrival follows through
 * Report State), `OFFLINE`, or `ERROR` with Google's code — including the two-factor challenge for
 * guarded commands.
 */
import type { DeviceState } from "../../bus.ts";
import type { TwoFactorPolicy } from "../../config/index.ts";
import { sendForAssistant } from "../../devices/arrival.ts";
import { changeOf, guardedPolicy, scenePolicy } from "../../devices/guarded.ts";
import type { CanonicalCommand, ParamValue } from "../../model/index.ts";
import { sceneEndpointId, sceneIdOfEndpoint } from "../../scenes/index.ts";
import type { IntentContext, Principal } from "../context.ts";
import { deviceStates, isExposed, present, traitsOf } from "../devices.ts";
import { GoogleError, googleErrorCode, isOfflineCode } from "../errors.ts";
import { type Challenge, ExecutePayloadSchema, type Execution } from "../messages.ts";
import type { GoogleDevice } from "../trait.ts";
import { ACTIVATE_SCENE } from "../traits/scene.ts";
import type { VerifyRequest, VerifyResult } from "../two-factor.ts";

/** One device's outcome, before outcomes are grouped. */
interface Outcome {
  status: "SUCCESS" | "PENDING" | "OFFLINE" | "ERROR";
  errorCode?: string;
  challengeNeeded?: { type: string };
  states?: Record<string, unknown>;
}

export async function execute(ctx: IntentContext, principal: Principal, payload: unknown) {
  const parsed = ExecutePayloadSchema.safeParse(payload);
  if (!parsed.success) throw new GoogleError("protocolError", "EXECUTE needs payload.commands");
  // A device named in several command groups gets all of their executions, in order.
  const executions = new Map<string, Execution[]>();
  for (const group of parsed.data.commands) {
    for (const { id } of group.devices) executions.set(id, [...(executions.get(id) ?? []), ...group.execution]);
  }
  // One answer to a challenge covers every device of the request ("unlock all doors"): a wrong PIN counts
  // once, and a right one is hashed once.
  const verifications = new Map<string, Promise<VerifyResult>>();
  const verifyOnce: Verify = (request) => {
    const key = request.policy;
    let verdict = verifications.get(key);
    if (!verdict) {
      verdict = ctx.twoFactor.verify(request);
      verifications.set(key, verdict);
    }
    return verdict;
  };
  const results = await Promise.all(
    [...executions].map(async ([id, list]) => [id, await executeOn(ctx, principal, id, list, verifyOnce)] as const),
  );
  return { commands: groupOutcomes(results) };
}

type Verify = (request: VerifyRequest) => Promise<VerifyResult>;

async function executeOn(
  ctx: IntentContext,
  principal: Principal,
  id: string,
  executions: Execution[],
  verify: Verify,
): Promise<Outcome> {
  const sceneId = sceneIdOfEndpoint(id);
  if (sceneId !== undefined) return activateScene(ctx, principal, sceneId, executions, verify);
  const record = ctx.store.devices.get(id);
  const device = record ? present(record, ctx.config) : undefined;
  if (!device || !isExposed(device)) return { status: "ERROR", errorCode: "deviceNotFound" };
  let canonical: CanonicalCommand;
  try {
    canonical = merge(executions.map((execution) => toCanonical(execution, device)));
  } catch (error) {
    return { status: "ERROR", errorCode: googleErrorCode(error) ?? "protocolError" };
  }
  const policy = guardedPolicy(device, ctx.config.devices, changeOf(device, canonical));
  // Nobody is asked for a PIN for a device that cannot act on it. An unguarded command still goes to the
  // command path, which answers `offline` at once, and records the wish for when the node returns.
  if (!device.online && policy !== "none") return OFFLINE;
  const refusal = await challenge(verify, principal, device.id, policy, executions, () => deviceStates(device));
  if (refusal) return refusal;
  return run(ctx, principal, device, canonical, executions);
}

const OFFLINE: Outcome = { status: "OFFLINE", errorCode: "deviceOffline", states: { online: false } };

/** Undefined when the policy is met; otherwise the refusal Google must hear (a challenge or an error). */
async function challenge(
  verify: Verify,
  principal: Principal,
  target: string,
  policy: TwoFactorPolicy,
  executions: Execution[],
  currentStates: () => Record<string, unknown>,
): Promise<Outcome | undefined> {
  if (policy === "none") return undefined;
  const answer = executions.find((e) => e.challenge)?.challenge as Challenge | undefined;
  const verdict = await verify({
    userId: principal.userId,
    deviceId: target,
    policy,
    ...(answer ? { challenge: answer } : {}),
  });
  if (verdict.ok) return undefined;
  if (!("challenge" in verdict)) return { status: "ERROR", errorCode: verdict.error };
  return {
    status: "ERROR",
    errorCode: "challengeNeeded",
    challengeNeeded: { type: verdict.challenge },
    // With an acknowledgement Google tells the user what the device is doing now.
    ...(verdict.challenge === "ackNeeded" ? { states: currentStates() } : {}),
  };
}

async function run(
  ctx: IntentContext,
  principal: Principal,
  device: GoogleDevice,
  canonical: CanonicalCommand,
  executions: Execution[],
): Promise<Outcome> {
  let state: DeviceState;
  let pending = false;
  try {
    ({ state, moving: pending } = await sendForAssistant(ctx.commands, ctx.arrivals, {
      deviceId: device.id,
      command: canonical,
      actor: `google:${principal.userId}`,
      timeoutMs: ctx.config.google.executeTimeoutMs,
    }));
  } catch (error) {
    const code = googleErrorCode(error);
    if (!code) throw error;
    if (isOfflineCode(code)) return OFFLINE;
    return { status: "ERROR", errorCode: code };
  }
  const refreshed = ctx.store.devices.get(device.id);
  const after = present({ ...(refreshed ?? device), state: { ...(refreshed ?? device).state, ...state } }, ctx.config);
  const states = deviceStates(after);
  if (after.state.lock_state === "jammed") return { status: "ERROR", errorCode: "deviceJammingDetected", states };
  if (pending && canonical.params) {
    const followUp = executions.find((e) => typeof e.params.followUpToken === "string");
    ctx.onPending?.({
      params: canonical.params,
      userId: principal.userId,
      deviceId: device.id,
      trait: device.type === "lock" ? "LockUnlock" : "OpenClose",
      ...(followUp ? { followUpToken: followUp.params.followUpToken as string } : {}),
    });
    return { status: "PENDING", states };
  }
  return { status: "SUCCESS", states };
}

function toCanonical(execution: Execution, device: GoogleDevice): CanonicalCommand {
  const handler = traitsOf(device).find((t) => t.commands[execution.command])?.commands[execution.command];
  if (!handler) throw new GoogleError("functionNotSupported", `${device.displayName} cannot ${execution.command}`);
  return handler(execution.params, device);
}

/** Several executions on one device become one command; an op other than `set` cannot be combined. */
function merge(commands: CanonicalCommand[]): CanonicalCommand {
  if (commands.length === 1) return commands[0] as CanonicalCommand;
  if (commands.some((c) => c.op && c.op !== "set")) {
    throw new GoogleError("notSupported", "this command cannot be combined with others");
  }
  return { params: Object.assign({}, ...commands.map((c) => c.params ?? {})) as Record<string, ParamValue> };
}

async function activateScene(
  ctx: IntentContext,
  principal: Principal,
  sceneId: string,
  executions: Execution[],
  verify: Verify,
): Promise<Outcome> {
  const activate = executions.every((e) => e.command === ACTIVATE_SCENE && e.params.deactivate !== true);
  if (!activate) return { status: "ERROR", errorCode: "functionNotSupported" };
  const scene = ctx.scenes.get(sceneId);
  if (!scene) return { status: "ERROR", errorCode: "deviceNotFound" };
  // A scene that unlocks a door asks for what unlocking it would ask for.
  const policy = scenePolicy(scene, (id) => ctx.store.devices.get(id), ctx.config.devices);
  const refusal = await challenge(verify, principal, sceneEndpointId(sceneId), policy, executions, () => ({}));
  if (refusal) return refusal;
  const timeoutMs = ctx.config.google.executeTimeoutMs;
  const running = ctx.scenes.activate(sceneId, `google:${principal.userId}`, { timeoutMs });
  // Past the deadline the scene has started; it finishes on its own.
  let timer: NodeJS.Timeout | undefined;
  const activation = await Promise.race([
    running,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  if (activation?.status === "error") return { status: "OFFLINE", errorCode: "deviceOffline" };
  return { status: "SUCCESS" };
}

/** Devices with the same outcome share one entry, as Google's response format allows. */
function groupOutcomes(results: ReadonlyArray<readonly [string, Outcome]>) {
  const groups = new Map<string, { ids: string[] } & Outcome>();
  for (const [id, outcome] of results) {
    const key = JSON.stringify(outcome);
    const group = groups.get(key);
    if (group) group.ids.push(id);
    else groups.set(key, { ids: [id], ...outcome });
  }
  return [...groups.values()];
}
