// Registry credentials in $XDG_CONFIG_HOME/strata/auth.json (mode 0600, dir 0700), in the
// format of containers' auth.json: {"auths": {"host:port": {"auth": base64("user:pass")}}}.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as sys from '../sys/index.js';
import { writeFileAtomic } from '../image/atomic.js';
import { RegistryError } from './errors.js';

export interface Credentials {
  username: string;
  password: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  [other: string]: unknown;
}

export function authFilePath(): string {
  const config = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(config, 'strata', 'auth.json');
}

function readAuthFile(file: string): AuthFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return {};
    throw e;
  }
  try {
    return JSON.parse(text) as AuthFile;
  } catch {
    throw new RegistryError('ELOCAL', `${file}: not valid JSON`);
  }
}

function writeAuthFile(file: string, doc: AuthFile): void {
  sys.mkdirp(path.dirname(file), 0o700);
  writeFileAtomic(file, JSON.stringify(doc, null, '\t') + '\n', 0o600);
}

export function loadCredentials(registry: string, file = authFilePath()): Credentials | undefined {
  const entry = readAuthFile(file).auths?.[registry];
  if (!entry) return undefined;
  if (entry.auth) {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) throw new RegistryError('ELOCAL', `${file}: the entry for ${registry} is malformed`);
    return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

export function saveCredentials(registry: string, creds: Credentials, file = authFilePath()): void {
  const doc = readAuthFile(file);
  doc.auths = { ...doc.auths, [registry]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } };
  writeAuthFile(file, doc);
}

/** false when there was nothing to remove */
export function removeCredentials(registry: string, file = authFilePath()): boolean {
  const doc = readAuthFile(file);
  if (!doc.auths?.[registry]) return false;
  delete doc.auths[registry];
  writeAuthFile(file, doc);
  return true;
}
