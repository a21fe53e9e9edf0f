/**
 * The hidden password prompt on a fake terminal: no echo, line editing, escape sequences skipped,
 * Ctrl+C cancels, and the terminal is always left in cooked mode.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { CliError } from "../../src/cli/context.ts";
import { readHidden, readPasswordFromStdin } from "../../src/cli/prompt.ts";

function fakeTerminal() {
  const input = Object.assign(new PassThrough(), {
    rawModes: [] as boolean[],
    setRawMode(mode: boolean) {
      input.rawModes.push(mode);
      return input;
    },
  });
  const output = new PassThrough();
  let written = "";
  output.on("data", (chunk: Buffer) => {
    written += chunk.toString();
  });
  return { input, output, written: () => written };
}

describe("readHidden", () => {
  test("reads one line without echoing it and restores the terminal", async () => {
    const t = fakeTerminal();
    const answer = readHidden("Password: ", t.input, t.output);
    t.input.write("secret pass");
    t.input.write("word\r");
    assert.equal(await answer, "secret password");
    assert.equal(t.written(), "Password: \n");
    assert.deepEqual(t.input.rawModes, [true, false]);
  });

  test("echo is off before the question shows, so fast typing never echoes", () => {
    const t = fakeTerminal();
    let rawWhenAsked: boolean | undefined;
    t.output.once("data", () => {
      rawWhenAsked = t.input.rawModes.at(-1);
    });
    void readHidden("Password: ", t.input, t.output);
    t.input.write("\r");
    assert.equal(rawWhenAsked, true);
  });

  test("backspace and Ctrl+U edit; arrow keys and other controls are ignored", async () => {
    const t = fakeTerminal();
    const answer = readHidden("Password: ", t.input, t.output);
    t.input.write("wrong\u0015rigt\u007fht\u001b[D\u001bOA\u0007é\n");
    assert.equal(await answer, "righté");
  });

  test("Ctrl+C cancels", async () => {
    const t = fakeTerminal();
    const answer = readHidden("Password: ", t.input, t.output);
    t.input.write("abc\u0003");
    await assert.rejects(answer, (error: unknown) => error instanceof CliError && error.exitCode === 130);
    assert.deepEqual(t.input.rawModes, [true, false]);
  });
});

describe("readPasswordFromStdin", () => {
  test("drops one final line break and nothing else", async () => {
    const read = (text: string) => readPasswordFromStdin(PassThrough.from([Buffer.from(text)]));
    assert.equal(await read("  spaced out password  \n"), "  spaced out password  ");
    assert.equal(await read("windows password\r\n"), "windows password");
    assert.equal(await read("two lines\n\n"), "two lines\n");
    await assert.rejects(read("\n"), /no password/);
  });
});
