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
