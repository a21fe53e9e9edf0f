import { initialSchema } from "./001-initial.ts";
import { accountsSchema } from "./002-accounts.ts";
import { grantsSchema } from "./003-grants.ts";
import { assistantsSchema } from "./004-assistants.ts";
import { googleSchema } from "./005-google.ts";
import { webhooksSchema } from "./006-webhooks.ts";
import { claimSchema } from "./007-claim.ts";
import { otaSchema } from "./008-ota.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Ordered; `version` is the value of `PRAGMA user_version` after the migration ran. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "initial schema", sql: initialSchema },
  { version: 2, name: "users and OAuth clients", sql: accountsSchema },
  { version: 3, name: "OAuth grants, codes, tokens and link health", sql: grantsSchema },
  { version: 4, name: "device classes, scenes and Alexa event-gateway grants", sql: assistantsSchema },
  { version: 5, name: "PINs, audit log and Google links", sql: googleSchema },
  { version: 6, name: "inbound hooks, subscriptions and the outbox", sql: webhooksSchema },
  { version: 7, name: "one-time claim tokens", sql: claimSchema },
  { version: 8, name: "node services and firmware update jobs", sql: otaSchema },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
