// Manifest kinds and the choice of a platform from an index.
import test from 'ava';
import { MediaType, blobsOf, choosePlatform, hostPlatform, parseManifest, parsePlatform, type Descriptor } from '../../src/registry/manifest.js';
import { RegistryError } from '../../src/registry/errors.js';

const d = (n: string, os: string, architecture: string, variant?: string): Descriptor => ({
  mediaType: MediaType.ociManifest,
  digest: `sha256:${n.repeat(64)}`,
  size: 1,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
});
const list = [d('a', 'linux', 'amd64'), d('b', 'linux', 'arm', 'v7'), d('c', 'linux', 'arm64', 'v8'), d('e', 'windows', 'amd64')];

test('this machine is linux/amd64 in OCI terms', (t) => {
  const expected = { x64: { os: 'linux', architecture: 'amd64' }, arm64: { os: 'linux', architecture: 'arm64', variant: 'v8' } }[process.arch as 'x64' | 'arm64'];
  if (!expected) return t.pass('no expectation written for this architecture');
  t.deepEqual(hostPlatform(), expected);
});

test('the platform is chosen by os, architecture and variant', (t) => {
  t.is(choosePlatform(list, parsePlatform('linux/amd64'), 'x').digest[7], 'a');
  t.is(choosePlatform(list, parsePlatform('linux/arm/v7'), 'x').digest[7], 'b');
  t.is(choosePlatform(list, parsePlatform('linux/arm64'), 'x').digest[7], 'c', 'arm64 means arm64/v8');
  t.is(choosePlatform(list, parsePlatform('windows/amd64'), 'x').digest[7], 'e');
});

test('no match names what is available', (t) => {
  const e = t.throws(() => choosePlatform(list, parsePlatform('linux/s390x'), 'reg/app:1'), { instanceOf: RegistryError });
  t.is(e!.code, 'EPLATFORM');
  t.regex(e!.message, /reg\/app:1: no image for linux\/s390x \(available: linux\/amd64, linux\/arm\/v7, linux\/arm64\/v8, windows\/amd64\)/);
  t.throws(() => choosePlatform(list, parsePlatform('linux/arm/v6'), 'x'), { instanceOf: RegistryError });
  t.throws(() => parsePlatform('linux'), { instanceOf: RegistryError });
});

test('manifests, indexes and Docker schema 1 are told apart', (t) => {
  const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: list[0], layers: [list[1]] }));
  t.is(parseManifest(m, undefined, 'x').kind, 'manifest');
  t.is(parseManifest(m, undefined, 'x').mediaType, MediaType.dockerManifest);
  const i = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: list }));
  t.like(parseManifest(i, MediaType.ociIndex, 'x'), { kind: 'index', mediaType: MediaType.ociIndex });
  t.is(t.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), undefined, 'x'), { instanceOf: RegistryError })!.code, 'EUNSUPPORTED');
  t.is(t.throws(() => parseManifest(Buffer.from('<html>'), undefined, 'x'), { instanceOf: RegistryError })!.code, 'EPROTOCOL');
});

test('the blobs of a manifest: config first, a repeated layer once', (t) => {
  const [a, b, c] = list;
  t.deepEqual(blobsOf({ config: a!, layers: [b!, c!, b!] }).map((x) => x.digest[7]), ['a', 'b', 'c']);
});
