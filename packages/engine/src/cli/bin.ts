/**
 * The `enclave` bin, once main.ts has set the process up: wires the real process into `main()` and exits
 * with its code.
 */
import { main } from './app.js';
import { escapeText } from './terminal.js';

/** Runs the command line of this process; never returns (the process exits with the command's code). */
export async function start(): Promise<void> {
  const controller = new AbortController();
  // First Ctrl-C ends the active run as ABORTED (its report still prints); being `once`, a second Ctrl-C
  // gets Node's default handling and stops the process at once.
  process.once('SIGINT', () => controller.abort());

  // A tools module can throw from a timer or leave a promise rejected after the run is over. That is
  // the user's code failing, not ours: one line, no host stack trace. Escaped: a tool's error often quotes
  // its arguments, which the script chose (escape sequences, line breaks that forge more report lines).
  const fatal = (e: unknown): void => {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    process.stderr.write(`enclave: uncaught error outside the sandbox (tools module?): ${escapeText(message)}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fatal);

  // `enclave check big.js | head` closes the pipe early: stop quietly, as other Unix tools do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      fatal(e);
    });
  }

  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  });

  // Exit explicitly: a tool that never settles, or a timer a tools module left behind, must not keep the
  // CLI alive after the report. Wait for both streams to flush first, since pipes can be asynchronous.
  const flush = (stream: NodeJS.WriteStream) => new Promise<void>((done) => stream.write('', () => done()));
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code);
}
