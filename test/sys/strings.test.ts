// Strings crossing into the addon (native/src/napi_util.c string_into, arg_string): a path
// is read whole whatever its length and wherever its multibyte characters fall.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import * as sys from '../../src/sys/index.js';
import { tempDir } from '../helpers/tmp.js';

/** a file whose path's UTF-8 is `bytes` long, ending in 3-byte characters ('€') */
function fileOfLength(root: string, bytes: number, chars: number): string {
  let dir = root;
  while (Buffer.byteLength(dir) < bytes - 250) dir = path.join(dir, 'd'.repeat(Math.min(200, bytes - 250 - Buffer.byteLength(dir))));
  fs.mkdirSync(dir, { recursive: true });
  const pad = bytes - Buffer.byteLength(dir) - 1 - 3 * chars;
  const f = path.join(dir, 'b'.repeat(pad) + '€'.repeat(chars));
  fs.writeFileSync(f, 'x'.repeat(bytes % 97));
  if (Buffer.byteLength(f) !== bytes) throw new Error(`made ${Buffer.byteLength(f)} bytes`);
  return f;
}

test('paths around the 1 KiB stack buffer are read whole, a character cut at its edge included', (t) => {
  const root = tempDir(t);
  // arg_string's stack buffer holds 1,023 bytes: each of these ends a '€' at or across it
  for (const bytes of [1019, 1020, 1021, 1022, 1023, 1024, 1025, 1026, 1031, 2000]) {
    const f = fileOfLength(path.join(root, String(bytes)), bytes, 4);
    t.is(sys.lstat(f).size, bytes % 97, `${bytes} bytes`);
  }
});
