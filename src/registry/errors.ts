// Registry failures the user can act on. Each kind has a stable code (isomorphic-git style)
// so tests and callers branch on the code, never on the message.
import { UserError } from '../errors.js';

export type RegistryErrorCode =
  | 'EREFERENCE' // the reference does not parse
  | 'EUNAUTHORIZED' // 401: no or rejected credentials
  | 'EDENIED' // 403
  | 'ENOTFOUND' // 404: repository, tag or blob unknown
  | 'ESERVER' // 5xx, after the retries
  | 'ENETWORK' // connection refused, reset, TLS failure, after the retries
  | 'EDIGEST' // content does not match its digest (or size)
  | 'EPROTOCOL' // the registry answered something the API does not allow
  | 'EPLATFORM' // no manifest for the wanted platform
  | 'EUNSUPPORTED' // a manifest kind we do not handle (schema 1, foreign digests)
  | 'ELOCAL'; // the local image or layout is missing or broken

export class RegistryError extends UserError {
  readonly code: RegistryErrorCode;
  constructor(code: RegistryErrorCode, message: string) {
    super(message);
    this.name = 'RegistryError';
    this.code = code;
  }
}
