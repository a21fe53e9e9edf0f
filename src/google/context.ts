/** What the intent handlers share: the components they use and the user an intent speaks for. */
import type { Config } from "../config/index.ts";
import type { ArrivalWatcher } from "../devices/arrival.ts";
import type { CommandService } from "../devices/commands.ts";
import type { Logger } from "../log.ts";
import type { ParamValue } from "../model/index.ts";
import type { Authenticated } from "../oauth/grants.ts";
import type { SceneService } from "../scenes/index.ts";
import type { Store } from "../store/index.ts";
import type { TwoFactor } from "./two-factor.ts";

export interface IntentContext {
  config: Config;
  store: Store;
  commands: CommandService;
  scenes: SceneService;
  twoFactor: Pick<TwoFactor, "verify">;
  arrivals: ArrivalWatcher;
  log: Logger;
  now: () => number;
  /** Told of a command answered PENDING, so that its arrival is reported to Google as a follow-up. */
  onPending?: (pending: PendingCommand) => void;
}

export interface PendingCommand {
  userId: string;
  deviceId: string;
  /** The trait whose command it was (`LockUnlock`, `OpenClose`) and Google's follow-up token, if any. */
  trait: string;
  followUpToken?: string;
  /** Where the command sent the device, to know when it has arrived. */
  params: Record<string, ParamValue>;
}

export type Principal = Authenticated;
