// A layer tar that stops right after its last entry's data (umoci insert writes such) is
// extracted; one that stops inside the data is still refused.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { extractLayer } from '../../src/image/layer-extract.js';
import { sha256 } from '../../src/image/digest.js';
import { makeTar, streamOf } from '../helpers/images.js';
import { tempDir } from '../helpers/tmp.js';

const content = Buffer.alloc(1000, 'a');

async function shortTar(): Promise<{ full: Buffer; unpadded: Buffer }> {
  const full = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/data', content }]);
  // two headers, then the data without its padding and without the end-of-archive blocks
  return { full, unpadded: full.subarray(0, 2 * 512 + content.length) };
}

test('a tar without padding after its last entry is extracted whole, its diff_id over the bytes as given', async (t) => {
  const { unpadded } = await shortTar();
  const dir = tempDir(t);
  const r = await extractLayer(streamOf(unpadded), dir);
  t.deepEqual(fs.readFileSync(path.join(dir, 'etc/data')), content);
  t.is(r.diffId, sha256(unpadded));
  t.is(r.tarSize, unpadded.length);
});

test('a tar whose last entry ends on a block boundary without end blocks is extracted', async (t) => {
  const tar = await makeTar([{ name: 'x', content: Buffer.alloc(512, 'b') }]);
  const dir = tempDir(t);
  await extractLayer(streamOf(tar.subarray(0, 1024)), dir);
  t.is(fs.readFileSync(path.join(dir, 'x'), 'utf8'), 'b'.repeat(512));
});

test('a tar cut inside the last entry data is refused, not filled with zeros', async (t) => {
  const { full } = await shortTar();
  await t.throwsAsync(extractLayer(streamOf(full.subarray(0, 2 * 512 + 700)), tempDir(t)));
});
