// login/logout: credentials are checked against the registry before they are kept.
import { RegistryClient, type ClientOptions } from './client.js';
import { removeCredentials, saveCredentials, type Credentials } from './credentials.js';
import { RegistryError } from './errors.js';
import { discard } from './http.js';
import { parseReference } from './reference.js';

/** A registry as the user names it: host[:port], maybe with a scheme or path we ignore. */
export function registryOf(arg: string): string {
  const bare = arg.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  if (bare === '') throw new RegistryError('EREFERENCE', `invalid registry "${arg}"`);
  return parseReference(`${bare}/x`).registry;
}

export async function login(registryArg: string, creds: Credentials, opts: ClientOptions = {}): Promise<string> {
  const registry = registryOf(registryArg);
  const client = new RegistryClient(registry, { ...opts, credentials: creds });
  // /v2/ answers 401 without credentials; with them it answers 200 or a token is refused
  const res = await client.request({ method: 'GET', path: '/v2/', scopes: [] });
  discard(res);
  if (res.status === 401) throw new RegistryError('EUNAUTHORIZED', `login to ${registry} failed: credentials rejected`);
  if (res.status !== 200) throw await client.failure(res, `login to ${registry}`);
  saveCredentials(registry, creds, opts.authFile);
  return registry;
}

export function logout(registryArg: string, authFile?: string): string {
  const registry = registryOf(registryArg);
  if (!removeCredentials(registry, authFile)) throw new RegistryError('ELOCAL', `not logged in to ${registry}`);
  return registry;
}
