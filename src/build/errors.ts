// The failures a build reports to its user: each is one line naming the culprit.
import { UserError } from '../errors.js';

/** A Dockerfile that cannot be read: `Dockerfile:LINE: message: offending text`, as
 * docker build reports it, so an editor can jump to the line. */
export class DockerfileError extends UserError {
  readonly code = 'EDOCKERFILE';
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string, text?: string) {
    super(`${file}:${line}: ${message}${text === undefined ? '' : `: ${text}`}`);
    this.name = 'DockerfileError';
    this.file = file;
    this.line = line;
  }
}

/** A step that cannot be carried out (missing source, source outside the context, ...). */
export class BuildError extends UserError {
  readonly code = 'EBUILD';
  constructor(message: string, exitCode = 1) {
    super(message, exitCode);
    this.name = 'BuildError';
  }
}
