// Errors every layer may raise; here rather than in src/cli so lower layers need not import the CLI.

/** A failure the user can act on: printed as one line, exit status as given. */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}
