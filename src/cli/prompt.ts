/**
 * Reading a new password: typed twice at a terminal without echo, or one line from standard input for
 * scripts (`--password-stdin`). It is never taken from the command line, where `ps` and the shell history
 * would keep it.
 */
import { passwordProblem } from "../oauth/passwords.ts";
import { CliError } from "./context.ts";

/** What readHidden needs of a terminal; process.stdin when it is a TTY. */
export interface TerminalInput {
  setRawMode(mode: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  on(event: "data", listener: (chunk: string) => void): unknown;
  off(event: "data", listener: (chunk: string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

const ENTER = new Set(["\r", "\n"]);
const CTRL_C = "\u0003";
const CTRL_D = "\u0004";
const CTRL_U = "\u0015";
const ESCAPE = "\u001b";
const ERASE = new Set(["\u007f", "\b"]);

/**
 * Asks `question` and reads one line without echoing it. In raw mode the terminal leaves editing to us:
 * backspace and Ctrl+U edit, Ctrl+C cancels, and escape sequences (arrow keys) are skipped instead of
 * ending up in the password.
 */
export function readHidden(
  question: string,
  input: TerminalInput = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<string> {
  // Raw mode first: whatever is typed as soon as the question shows must already not echo.
  input.setRawMode(true);
  input.setEncoding("utf8");
  output.write(question);
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    // 0: text; 1: after ESC; 2: inside a CSI/SS3 sequence, until its final byte.
    let sequence = 0;
    const finish = () => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      output.write("\n");
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (sequence === 1) {
          sequence = ch === "[" || ch === "O" ? 2 : 0;
          continue;
        }
        if (sequence === 2) {
          if (ch >= "@" && ch <= "~") sequence = 0;
          continue;
        }
        if (ENTER.has(ch)) {
          finish();
          return resolve(chars.join(""));
        }
        if (ch === CTRL_C || (ch === CTRL_D && chars.length === 0)) {
          finish();
          return reject(new CliError("cancelled", 130));
        }
        if (ERASE.has(ch)) chars.pop();
        else if (ch === CTRL_U) chars = [];
        else if (ch === ESCAPE) sequence = 1;
        else if (ch >= " ") chars.push(ch);
      }
    };
    input.on("data", onData);
    input.resume();
  });
}

/** One password from standard input: everything up to the end, without the final line break. */
export async function readPasswordFromStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const password = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (password === "") throw new CliError("no password on standard input");
  return password;
}

/**
 * A new password for `userName`, from standard input with `fromStdin`, otherwise asked twice at the
 * terminal. The policy is checked after the first entry, so a refused password need not be typed again.
 */
export async function readNewPassword(userName: string, fromStdin: boolean): Promise<string> {
  if (fromStdin) return readPasswordFromStdin();
  if (!process.stdin.isTTY) {
    throw new CliError(
      "standard input is not a terminal, so the password cannot be asked for; pass --password-stdin to read it from standard input",
    );
  }
  const password = await readHidden(`Password for ${userName}: `);
  const problem = passwordProblem(password, userName);
  if (problem) throw new CliError(problem);
  if ((await readHidden("Repeat the password: ")) !== password) {
    throw new CliError("the two passwords differ; nothing was changed");
  }
  return password;
}
