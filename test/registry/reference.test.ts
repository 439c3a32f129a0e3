// References parse as Docker parses them.
import test from 'ava';
import { formatReference, isLoopback, parseReference } from '../../src/registry/reference.js';
import { RegistryError } from '../../src/registry/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

test('a single name is a Docker Hub library image with tag latest', (t) => {
  t.deepEqual(parseReference('alpine'), { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' });
  t.is(formatReference(parseReference('alpine')), 'docker.io/library/alpine:latest');
});

test('a first component is a registry host only with a dot, a colon or as localhost', (t) => {
  t.deepEqual(parseReference('user/app:1.0'), { registry: 'docker.io', repository: 'user/app', tag: '1.0' });
  t.deepEqual(parseReference('quay.io/org/app'), { registry: 'quay.io', repository: 'org/app', tag: 'latest' });
  t.deepEqual(parseReference('127.0.0.1:5000/a/b/c:v2'), { registry: '127.0.0.1:5000', repository: 'a/b/c', tag: 'v2' });
  t.deepEqual(parseReference('localhost/app'), { registry: 'localhost', repository: 'app', tag: 'latest' });
  t.deepEqual(parseReference('localhost:5000/app'), { registry: 'localhost:5000', repository: 'app', tag: 'latest' });
  t.deepEqual(parseReference('index.docker.io/busybox'), { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
});

test('digests: with or without a tag, and no default tag when a digest is given', (t) => {
  t.deepEqual(parseReference(`host:1/app@${D}`), { registry: 'host:1', repository: 'app', digest: D });
  t.deepEqual(parseReference(`host:1/app:v1@${D}`), { registry: 'host:1', repository: 'app', tag: 'v1', digest: D });
  t.is(formatReference(parseReference(`app@${D}`)), `docker.io/library/app@${D}`);
});

test('bad references are refused with a reason naming them', (t) => {
  for (const [ref, why] of [
    ['Upper/case', /lowercase/],
    ['app:bad tag', /not a valid tag/],
    ['app@sha256:xyz!', /not a digest/],
    ['', /no repository/],
    ['host:5000/', /not a valid path component/],
    ['a//b', /not a valid path component/],
  ] as const) {
    const e = t.throws(() => parseReference(ref), { instanceOf: RegistryError });
    t.regex(e!.message, why, ref);
    t.true(e!.message.includes(`"${ref}"`) || ref === '', ref);
  }
  t.is(t.throws(() => parseReference(`app@sha512:${'b'.repeat(128)}`), { instanceOf: RegistryError })!.code, 'EUNSUPPORTED');
});

test('loopback hosts are recognised for plain http', (t) => {
  t.true(isLoopback('localhost:5000'));
  t.true(isLoopback('127.0.0.1:41234'));
  t.true(isLoopback('[::1]:5000'));
  t.false(isLoopback('registry.example.com'));
  t.false(isLoopback('10.0.0.1:5000'));
});
