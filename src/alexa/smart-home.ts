/**
 * The Alexa Smart Home directive router: parses a directive, finds the endpoint and the interface that
 * handles it, turns it into a canonical command, waits for the node's confirmation and answers with the
 * state the node confirmed. Every outcome is an Alexa message — a malformed directive, an unknown device,
 * a node that does not answer in time — never an exception, so Alexa always hears something it
 * understands within its 8 seconds.
 */
import type { DeviceState, EventBus } from "../bus.ts";
import type { Config } from "../config/index.ts";
import { ArrivalWatcher, sendForAssistant } from "../devices/arrival.ts";
import type { CommandService } from "../devices/commands.ts";
import { scenePolicy } from "../devices/guarded.ts";
import type { Logger } from "../log.ts";
import type { ParamValue } from "../model/index.ts";
import type { Authenticated } from "../oauth/grants.ts";
import type { SceneService } from "../scenes/index.ts";
import type { Store } from "../store/index.ts";
import {
  deviceEndpoint,
  interfacesOf,
  isExposed,
  MAX_ENDPOINTS,
  parseEndpointId,
  presentDevice,
  sceneEndpoint,
} from "./endpoints.ts";
import { AlexaError, toAlexaError } from "./errors.ts";
import type { AcceptGrantError, AlexaEventGateway } from "./event-gateway.ts";
import type { AlexaDevice } from "./interface.ts";
import { type AlexaEvent, addressOf, type Directive, PAYLOAD_VERSION, parseDirective } from "./messages.ts";
import { deviceProperties } from "./properties.ts";
import {
  acceptGrantResponse,
  activationStarted,
  controlResponse,
  deferredResponse,
  discoverResponse,
  errorResponse,
  stateReport,
} from "./responses.ts";

export interface SmartHomeDeps {
  config: Config;
  store: Store;
  bus: EventBus;
  commands: CommandService;
  scenes: SceneService;
  gateway: Pick<AlexaEventGateway, "acceptGrant" | "recipients" | "send">;
  log: Logger;
  now?: () => number;
}

/**
 * How long a slow actuator (a lock, a garage door) may take after a DeferredResponse before Alexa is
 * told it failed; Amazon's own examples defer for tens of seconds.
 */
export const DEFERRED_LIMIT_MS = 60_000;

/** Platforms whose tokens may drive the Alexa route: Alexa's own link, and custom clients for testing. */
const ACCEPTED_PLATFORMS = new Set(["alexa", "custom"]);

export class AlexaSmartHome {
  private readonly now: () => number;
  private readonly arrivals: ArrivalWatcher;

  constructor(private readonly deps: SmartHomeDeps) {
    this.now = deps.now ?? Date.now;
    this.arrivals = new ArrivalWatcher(deps.bus, deps.store);
  }

  /** Ends every wait; deferred answers still owed to Alexa are dropped, as Alexa's own timeout will tell it. */
  stop(): void {
    this.arrivals.stop();
  }

  /** Answers one directive body on behalf of an authenticated user. Never rejects. */
  async handle(body: unknown, principal: Authenticated): Promise<AlexaEvent> {
    const parsed = parseDirective(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? issue.path.join(".") : "the body";
      return errorResponse(
        addressOf(body),
        new AlexaError("INVALID_DIRECTIVE", `not an Alexa directive: ${where}: ${issue?.message ?? "invalid"}`),
      );
    }
    const directive = parsed.data.directive;
    const address = {
      ...(directive.header.correlationToken ? { correlationToken: directive.header.correlationToken } : {}),
      ...addressOf(body),
    };
    try {
      if (directive.header.payloadVersion !== PAYLOAD_VERSION) {
        throw new AlexaError("INVALID_DIRECTIVE", `payloadVersion ${directive.header.payloadVersion} is not supported`);
      }
      if (!ACCEPTED_PLATFORMS.has(principal.platform)) {
        throw new AlexaError("INVALID_AUTHORIZATION_CREDENTIAL", "the token was not issued to an Alexa skill");
      }
      return await this.dispatch(directive, principal);
    } catch (error) {
      const alexaError = toAlexaError(error);
      if (alexaError) return errorResponse(address, alexaError);
      this.deps.log.error(
        { err: error, namespace: directive.header.namespace, name: directive.header.name },
        "an Alexa directive failed unexpectedly",
      );
      return errorResponse(address, new AlexaError("INTERNAL_ERROR", "Hearth could not handle the directive"));
    }
  }

  private async dispatch(directive: Directive, principal: Authenticated): Promise<AlexaEvent> {
    const { namespace, name } = directive.header;
    if (namespace === "Alexa.Discovery" && name === "Discover") return this.discover();
    if (namespace === "Alexa.Authorization" && name === "AcceptGrant") return this.acceptGrant(directive, principal);
    const endpointId = directive.endpoint?.endpointId;
    if (!endpointId) throw new AlexaError("INVALID_DIRECTIVE", `${namespace}.${name} needs an endpoint`);
    const ref = parseEndpointId(endpointId);
    if (ref?.kind === "scene") return this.scene(directive, endpointId, ref.sceneId, principal);
    const device = ref ? this.device(ref.deviceId) : undefined;
    if (!device) throw new AlexaError("NO_SUCH_ENDPOINT", `no device ${endpointId}; ask Alexa to discover devices`);
    const correlationToken = directive.header.correlationToken;
    // Answered from the store, never by asking the node: the Alexa app polls while it is open.
    if (namespace === "Alexa" && name === "ReportState") {
      return stateReport(correlationToken, endpointId, deviceProperties(device, this.now()));
    }
    const handler = interfacesOf(device).find((i) => i.namespace === namespace)?.directives[name];
    if (!handler)
      throw new AlexaError("INVALID_DIRECTIVE", `${device.friendlyName} does not support ${namespace}.${name}`);
    const command = handler(directive, device);
    let state: DeviceState;
    try {
      const result = await sendForAssistant(this.deps.commands, this.arrivals, {
        deviceId: device.id,
        command,
        actor: `alexa:${principal.userId}`,
        timeoutMs: this.deps.config.alexa.commandTimeoutMs,
      });
      state = result.state;
      // Still moving at the deadline: Alexa is told the answer will follow, and gets it through the event
      // gateway. Without event-gateway permission the only answer possible is now: the state the node
      // reports while it moves, which is the truth at this moment.
      if (result.moving && command.params && this.deps.gateway.recipients().includes(principal.userId)) {
        this.followUp(principal.userId, correlationToken, endpointId, device.id, command.params);
        return deferredResponse(correlationToken, Math.ceil(DEFERRED_LIMIT_MS / 1000));
      }
    } catch (error) {
      throw toAlexaError(error, device.definition.params) ?? error;
    }
    const confirmed = this.device(device.id) ?? device;
    return controlResponse(
      correlationToken,
      endpointId,
      deviceProperties({ ...confirmed, state: { ...confirmed.state, ...state } }, this.now()),
    );
  }

  private device(deviceId: string): AlexaDevice | undefined {
    const record = this.deps.store.devices.get(deviceId);
    if (!record) return undefined;
    const device = presentDevice(record, this.deps.config.devices);
    return isExposed(device) ? device : undefined;
  }

  /** Every exposed device and scene, up to Amazon's 300; devices first, in a stable order. */
  discoveryEndpoints() {
    const { store, config, scenes, log } = this.deps;
    const manufacturer = config.alexa.manufacturerName;
    const nodes = new Map(store.nodes.list().map((node) => [node.id, node]));
    const endpoints = [
      ...store.devices
        .list()
        .map((record) => presentDevice(record, config.devices))
        .filter(isExposed)
        .map((device) => deviceEndpoint(device, nodes.get(device.nodeId), manufacturer)),
      ...scenes.list().map((scene) => sceneEndpoint(scene, manufacturer)),
    ];
    if (endpoints.length > MAX_ENDPOINTS) {
      log.warn(
        { endpoints: endpoints.length, limit: MAX_ENDPOINTS },
        "Alexa accepts at most 300 endpoints per account; the rest are not discovered",
      );
    }
    return endpoints.slice(0, MAX_ENDPOINTS);
  }

  private discover(): AlexaEvent {
    return discoverResponse(this.discoveryEndpoints());
  }

  private async acceptGrant(directive: Directive, principal: Authenticated): Promise<AlexaEvent> {
    const grant = directive.payload.grant as { type?: unknown; code?: unknown } | undefined;
    const fail = (message: string) => new AlexaError("ACCEPT_GRANT_FAILED", message, {}, "Alexa.Authorization");
    if (grant?.type !== "OAuth2.AuthorizationCode" || typeof grant.code !== "string" || grant.code.length === 0) {
      throw fail("the grant must be an OAuth2.AuthorizationCode with a code");
    }
    try {
      await this.deps.gateway.acceptGrant(principal.userId, grant.code);
    } catch (error) {
      this.deps.log.warn({ user: principal.userId, err: (error as Error).message }, "AcceptGrant failed");
      throw fail((error as AcceptGrantError).message ?? "the grant could not be exchanged");
    }
    return acceptGrantResponse();
  }

  private async scene(
    directive: Directive,
    endpointId: string,
    sceneId: string,
    principal: Authenticated,
  ): Promise<AlexaEvent> {
    const { namespace, name, correlationToken } = directive.header;
    const scene = this.deps.scenes.get(sceneId);
    if (!scene) throw new AlexaError("NO_SUCH_ENDPOINT", `no scene ${sceneId}; ask Alexa to discover devices`);
    if (namespace === "Alexa" && name === "ReportState") return stateReport(correlationToken, endpointId, []);
    if (namespace !== "Alexa.SceneController" || name !== "Activate") {
      throw new AlexaError(
        "INVALID_DIRECTIVE",
        `a scene supports Alexa.SceneController.Activate, not ${namespace}.${name}`,
      );
    }
    // Alexa has no challenge for scenes: one that unlocks or opens a way into the house would bypass the
    // PIN that unlocking it directly asks for, so it is refused here.
    if (scenePolicy(scene, (id) => this.deps.store.devices.get(id), this.deps.config.devices) !== "none") {
      throw new AlexaError(
        "INVALID_DIRECTIVE",
        "this scene unlocks or opens a door, which needs a PIN: run it from Google or the Hearth API",
      );
    }
    const timeoutMs = this.deps.config.alexa.commandTimeoutMs;
    const running = this.deps.scenes.activate(sceneId, `alexa:${principal.userId}`, { timeoutMs });
    // Several actions on one slow device run one after the other and could outlast Alexa's 8 s: past the
    // deadline the scene has started, which is what ActivationStarted says; it finishes on its own.
    let timer: NodeJS.Timeout | undefined;
    const activation = await Promise.race([
      running,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (activation?.status === "error") {
      const first = activation.results.find((r) => r.status === "error");
      throw new AlexaError(
        "ENDPOINT_UNREACHABLE",
        `none of the scene's devices confirmed${first?.message ? ` (${first.device}: ${first.message})` : ""}`,
      );
    }
    return activationStarted(correlationToken, endpointId, "VOICE_INTERACTION", this.now());
  }

  /** Sends the late answer to a deferred directive: the arrived state, or unreachable at the limit. */
  private followUp(
    userId: string,
    correlationToken: string | undefined,
    endpointId: string,
    deviceId: string,
    params: Record<string, ParamValue>,
  ): void {
    const { gateway, log } = this.deps;
    this.arrivals
      .wait(deviceId, params, DEFERRED_LIMIT_MS)
      .then(async (arrived) => {
        if (this.arrivals.isStopped) return;
        const device = this.device(deviceId);
        const event = (token: string) =>
          arrived && device
            ? controlResponse(correlationToken, endpointId, deviceProperties(device, this.now()), token)
            : errorResponse(
                { ...(correlationToken ? { correlationToken } : {}), endpointId },
                new AlexaError("ENDPOINT_UNREACHABLE", "the device did not reach the requested state in time"),
                token,
              );
        await gateway.send(userId, event, "deferred Response");
      })
      .catch((error: unknown) => log.warn({ err: (error as Error).message }, "a deferred Alexa answer failed"));
  }
}
