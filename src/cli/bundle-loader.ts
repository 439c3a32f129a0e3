// Runs one of the CommonJS bundles of scripts/bundle.mjs (dist/src/cli/*.cjs) with V8's
// code cache: node 20 caches no compiled code of its own, and compiling a bundle (~750 KB
// for strata's) and then each function it calls costs tens of ms at every start. The cache
// is <bundle>.cache, written by the build only (STRATA_WRITE_CODE_CACHE=1, on exit after a
// warm-up command: it then holds the functions that command compiled); nothing is written
// at run time. It is used only for the exact bundle, node and architecture it was made by
// (its header), and V8 rejects it on its own checks too (flags, V8 version); without a
// valid cache the bundle is compiled as usual. Only node built-ins here.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { crc32 } from 'node:zlib';

type Wrapper = (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;

/** What a cache must have been made for: the bundle's text, this node, this CPU. CRC-32
 * (zlib's) rather than a cryptographic hash: it guards against a rebuilt or edited bundle
 * and a damaged file, not against an attacker who can write the package's files anyway,
 * and loading node:crypto cost ~10 ms of every start. */
function cacheKey(source: string): string {
  return `${crc32(source).toString(16).padStart(8, '0')} ${process.version} ${process.arch}\n`;
}

/** the payload's CRC-32, 4 bytes big-endian */
function checksum(b: Buffer): Buffer {
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc32(b));
  return c;
}
const SUM = 4;

/** The file's payload if its header is key and its checksum holds (V8 checks neither the
 * bundle's text, only its length, nor, in a release build, the payload). */
function readCache(file: string, key: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const header = Buffer.from(key);
  if (data.length <= header.length + SUM || !data.subarray(0, header.length).equals(header)) return undefined;
  const payload = data.subarray(header.length + SUM);
  return checksum(payload).equals(data.subarray(header.length, header.length + SUM)) ? payload : undefined;
}

/** key, the payload's checksum, the payload; written whole or not at all */
function writeCache(file: string, key: string, payload: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(key), checksum(payload), payload]));
  fs.renameSync(tmp, file);
}

export interface CompiledBundle {
  script: vm.Script;
  /** the code cache: none valid for this bundle and node, V8 took it, or V8 refused it */
  cache: 'none' | 'used' | 'rejected';
  file: string;
  key: string;
}

/** Compiles the bundle at file, with its code cache where there is a valid one. */
export function compileBundle(file: string): CompiledBundle {
  const source = fs.readFileSync(file, 'utf8');
  const key = cacheKey(source);
  const cachedData = readCache(`${file}.cache`, key);
  // node's own CommonJS wrapper, on the first line so that line numbers stay true
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  return { script, cache: !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used', file, key };
}

/** Writes the code cache of a compiled bundle: what it has compiled so far. */
export function writeCodeCache(b: CompiledBundle): void {
  writeCache(`${b.file}.cache`, b.key, b.script.createCachedData());
}

/** Loads and runs the bundle at url as node would a CommonJS main module. */
export function runBundle(url: URL): void {
  const file = fileURLToPath(url);
  const b = compileBundle(file);
  if (process.env.STRATA_WRITE_CODE_CACHE === '1') process.on('exit', () => writeCodeCache(b));
  const module = { exports: {}, filename: file, id: '.', loaded: false };
  (b.script.runInThisContext() as Wrapper)(module.exports, createRequire(file), module, file, path.dirname(file));
}
