/**
 * Amazon's and Google's published schemas and samples, read from the shared conformance folder beside
 * the project (never copied into it: their licences keep them there). `HEARTH_CONFORMANCE_DIR` points
 * elsewhere.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv04Module from "ajv-draft-04";

// The package is CommonJS with a default export; under NodeNext it arrives as the module object.
const Ajv04 = ((Ajv04Module as unknown as { default?: typeof Ajv04Module }).default ?? Ajv04Module) as unknown as new (
  options: object,
) => { compile(schema: object): ((message: unknown) => boolean) & { errors?: unknown } };

const here = dirname(fileURLToPath(import.meta.url));

export function conformanceDir(): string {
  const dir = process.env.HEARTH_CONFORMANCE_DIR ?? resolve(here, "../../../shared/conformance");
  if (!existsSync(dir)) {
    throw new Error(
      `the conformance data is not at ${dir}: put the shared folder beside the project or set HEARTH_CONFORMANCE_DIR`,
    );
  }
  return dir;
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** Every JSON file under a folder, as [path relative to it, parsed content]. */
export function jsonFilesUnder(dir: string): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".json")) out.push([relative(dir, path), readJson(path)]);
    }
  };
  walk(dir);
  return out;
}

export type SchemaCheck = (message: unknown) => void;

let alexaValidator: ((message: unknown) => boolean) & { errors?: unknown } = undefined as never;

/**
 * Asserts that a message Hearth sends to Alexa (a response or an event) passes Amazon's Smart Home
 * schema. The schema is draft-04 with non-standard formats and a regex that is invalid under the `u`
 * flag, hence the validator options (see the conformance README).
 */
export const assertAlexaMessage: SchemaCheck = (message) => {
  if (!alexaValidator) {
    const schema = readJson(join(conformanceDir(), "alexa/validation_schemas/alexa_smart_home_message_schema.json"));
    const ajv = new Ajv04({ strict: false, unicodeRegExp: false, validateFormats: false, allErrors: false });
    alexaValidator = ajv.compile(schema as object) as typeof alexaValidator;
  }
  if (!alexaValidator(message)) {
    throw new Error(
      `message fails Amazon's Smart Home schema: ${JSON.stringify(alexaValidator.errors).slice(0, 1500)}\n${JSON.stringify(message).slice(0, 1500)}`,
    );
  }
};

export function alexaSamplesDir(): string {
  return join(conformanceDir(), "alexa/sample_messages");
}

// ---------------------------------------------------------------------------------------------------------------
// Google's smart-home schemas (draft-07), with the one documented overlay for what the 2021 snapshot lacks.

import AjvModule from "ajv";
import { parse as parseYaml } from "yaml";

const Ajv07 = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as unknown as new (
  options: object,
) => { compile(schema: object): ((message: unknown) => boolean) & { errors?: unknown } };

type Validator = ((message: unknown) => boolean) & { errors?: unknown };

const googleValidators = new Map<string, Validator>();
const ajv07 = () => new Ajv07({ strict: false, validateFormats: false, allErrors: false });

function googleSchemaDir(): string {
  return join(conformanceDir(), "google/smart-home-schema");
}

/**
 * The overlay (conformance README, gap 1): an EXECUTE result may carry `challengeNeeded: {type}`, which the
 * 2021 schema's `additionalProperties: false` forbids. Formats are not validated (gap 2: Google's requestIds
 * are decimal strings, not UUIDs).
 */
function withTwoFactorOverlay(schema: any): any {
  const items = schema?.properties?.payload?.properties?.commands?.items;
  if (items?.properties) {
    items.properties.challengeNeeded = {
      type: "object",
      properties: { type: { enum: ["ackNeeded", "pinNeeded", "challengeFailedPinNeeded"] } },
      required: ["type"],
      additionalProperties: false,
    };
  }
  return schema;
}

function validatorFor(key: string, load: () => unknown): Validator {
  let validator = googleValidators.get(key);
  if (!validator) {
    validator = ajv07().compile(load() as object) as Validator;
    googleValidators.set(key, validator);
  }
  return validator;
}

function check(validator: Validator, message: unknown, what: string): void {
  if (!validator(message)) {
    throw new Error(
      `${what} fails Google's schema: ${JSON.stringify(validator.errors).slice(0, 1500)}\n${JSON.stringify(message).slice(0, 1500)}`,
    );
  }
}

/** Asserts that a fulfillment response passes Google's schema for its intent (`sync`, `query`, `execute`, `disconnect`). */
export function assertGoogleResponse(intent: "sync" | "query" | "execute" | "disconnect", body: unknown): void {
  const validator = validatorFor(`intent:${intent}`, () =>
    withTwoFactorOverlay(readJson(join(googleSchemaDir(), `intents/${intent}/${intent}.response.schema.json`))),
  );
  check(validator, body, `${intent} response`);
}

/** Every property name a schema defines, including those inside its anyOf/oneOf/allOf branches. */
function propertyNames(schema: any): Set<string> {
  const names = new Set<string>(Object.keys(schema?.properties ?? {}));
  for (const branch of [...(schema?.anyOf ?? []), ...(schema?.oneOf ?? []), ...(schema?.allOf ?? [])]) {
    for (const name of propertyNames(branch)) names.add(name);
  }
  return names;
}

interface TraitSchemas {
  attributes?: string;
  states?: string;
}

function traitSchemas(traitName: string): TraitSchemas {
  const short = traitName.replace("action.devices.traits.", "").toLowerCase();
  const index = parseYaml(readFileSync(join(googleSchemaDir(), `traits/${short}/index.yaml`), "utf8")) as {
    attributes?: { $ref?: string };
    states?: { $ref?: string };
  };
  const at = (ref?: string) => (ref ? join(googleSchemaDir(), `traits/${short}`, ref) : undefined);
  const attributes = at(index.attributes?.$ref);
  const states = at(index.states?.$ref);
  return { ...(attributes ? { attributes } : {}), ...(states ? { states } : {}) };
}

/**
 * Asserts that a SYNC device's attributes and a state object (QUERY, EXECUTE or Report State) pass the
 * schemas of every trait the device declares; each trait's schema sees the part of the state it defines.
 */
export function assertGoogleTraits(traits: readonly string[], attributes: object | undefined, states?: object): void {
  for (const name of traits) {
    if (name === "action.devices.traits.Scene") continue;
    const files = traitSchemas(name);
    if (files.attributes && attributes) {
      const schema = readJson(files.attributes) as object;
      const names = propertyNames(schema);
      const own = Object.fromEntries(Object.entries(attributes).filter(([key]) => names.has(key)));
      check(
        validatorFor(`attributes:${name}`, () => schema),
        own,
        `${name} attributes`,
      );
    }
    if (files.states && states) {
      const schema = readJson(files.states) as object;
      const names = propertyNames(schema);
      const own = Object.fromEntries(Object.entries(states).filter(([key]) => names.has(key)));
      if (Object.keys(own).length > 0)
        check(
          validatorFor(`states:${name}`, () => schema),
          own,
          `${name} states`,
        );
    }
  }
}

export function googleFixturesDir(): string {
  return join(conformanceDir(), "google/fixtures");
}
