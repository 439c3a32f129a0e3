// WWW-Authenticate parsing, on the forms registries send.
import test from 'ava';
import { parseChallenges } from '../../src/registry/challenge.js';

test('a Bearer challenge gives realm, service and scope', (t) => {
  const [c] = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"');
  t.deepEqual(c, { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } });
});

test('several challenges in one header, unquoted values and escapes', (t) => {
  const cs = parseChallenges('Basic realm="a \\"quoted\\" realm", Bearer realm=https://h/t, service=s');
  t.deepEqual(cs, [
    { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
    { scheme: 'bearer', params: { realm: 'https://h/t', service: 's' } },
  ]);
});

test('scopes with several actions keep their commas', (t) => {
  const [c] = parseChallenges('Bearer realm="r",scope="repository:a:pull,push repository:b:pull"');
  t.is(c!.params.scope, 'repository:a:pull,push repository:b:pull');
});

test('no header, no challenge', (t) => {
  t.deepEqual(parseChallenges(undefined), []);
});
