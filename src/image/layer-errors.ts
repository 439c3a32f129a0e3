import { UserError } from '../errors.js';

/** A layer tar that Strata refuses to extract or write; names the entry and the reason. */
export class LayerTarError extends UserError {
  readonly code = 'ELAYERTAR';
  constructor(readonly entry: string, reason: string) {
    super(`layer tar entry '${entry}': ${reason}`);
    this.name = 'LayerTarError';
  }
}
