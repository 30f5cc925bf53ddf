/** A mistake in how the CLI was called (unknown flag, missing file, bad JSON input): exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose help the message points to (`check`, `run`), if any. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}
