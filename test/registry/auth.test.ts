// Basic auth (htpasswd) with login/logout through the CLI, and Bearer tokens from a token
// server, against docker-registry configured for each.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ImageStore } from '../../src/image/store.js';
import { RegistryError } from '../../src/registry/errors.js';
import { pull } from '../../src/registry/pull.js';
import { push } from '../../src/registry/push.js';
import { startRegistry, strata, strataJs } from '../helpers/registry.js';
import { startTokenServer } from '../helpers/token-server.js';
import { tempDir } from '../helpers/tmp.js';
import { tempStore } from '../helpers/images.js';
import { syntheticImage } from './fixtures.js';

const user = { username: 'alice', password: 's3cret-pass' };

test('htpasswd registry: refused without login, login checks and keeps credentials 0600, logout forgets them', async (t) => {
  const reg = await startRegistry(t, { htpasswd: user });
  const dir = tempDir(t);
  const env = { XDG_CONFIG_HOME: path.join(dir, 'config') };
  const layout = path.join(dir, 'layout');
  await syntheticImage(new ImageStore(layout), 'app', { layerSizes: [1000] });

  const denied = await strata(['--root', layout, 'push', 'app', `${reg.host}/app:1`], { env });
  t.is(denied.code, 1);
  t.is(denied.err.trim(), `strata: ${reg.host}/app: authentication required (strata login ${reg.host})`);

  const wrong = await strata(['login', '-u', user.username, '--password-stdin', reg.host], { env, input: 'nope\n' });
  t.is(wrong.code, 1);
  t.is(wrong.err.trim(), `strata: login to ${reg.host} failed: credentials rejected`);
  t.false(fs.existsSync(path.join(dir, 'config/strata/auth.json')));

  const ok = await strata(['login', '-u', user.username, '--password-stdin', reg.host], { env, input: `${user.password}\n` });
  t.is(ok.code, 0, ok.err);
  t.is(ok.out, `Login Succeeded: ${reg.host}\n`);
  const file = path.join(dir, 'config/strata/auth.json');
  t.is(fs.statSync(file).mode & 0o777, 0o600);
  t.is(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  t.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { auths: { [reg.host]: { auth: Buffer.from(`${user.username}:${user.password}`).toString('base64') } } });

  const pushed = await strata(['--root', layout, 'push', 'app', `${reg.host}/app:1`], { env });
  t.is(pushed.code, 0, pushed.err);
  const pulled = await strata(['--root', path.join(dir, 'store'), 'pull', `${reg.host}/app:1`], { env });
  t.is(pulled.code, 0, pulled.err);
  t.is(pulled.out, pushed.out);

  const out = await strata(['logout', reg.host], { env });
  t.is(out.code, 0, out.err);
  t.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { auths: {} });
  const again = await strata(['--root', path.join(dir, 'store2'), 'pull', `${reg.host}/app:1`], { env });
  t.is(again.code, 1);
  t.regex(again.err, /authentication required \(strata login 127\.0\.0\.1:\d+\)/);
  const twice = await strata(['logout', reg.host], { env });
  t.is(twice.err.trim(), `strata: not logged in to ${reg.host}`);
});

test('login on a terminal asks for the password without echoing it', async (t) => {
  const reg = await startRegistry(t, { htpasswd: user });
  const dir = tempDir(t);
  const cmd = `${process.execPath} ${strataJs} login -u ${user.username} ${reg.host}`;
  // script(1) gives the command a terminal and types what it reads on its stdin
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, XDG_CONFIG_HOME: dir } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Password: ') && !child.stdin.writableEnded) child.stdin.end(`${user.password}\r`);
    });
    child.on('close', (code) => resolve({ code, out }));
  });
  t.is(r.code, 0, r.out);
  t.regex(r.out, /Password: /);
  t.regex(r.out, /Login Succeeded/);
  t.false(r.out.includes(user.password), 'the password is not echoed');
  t.truthy(JSON.parse(fs.readFileSync(path.join(dir, 'strata/auth.json'), 'utf8')).auths[reg.host]);
});

test('login without a terminal and without --password-stdin says what to do', async (t) => {
  const r = await strata(['login', '-u', 'x', '127.0.0.1:1']);
  t.is(r.code, 1);
  t.is(r.err.trim(), 'strata: login: no terminal to ask for the password; use --password-stdin');
});

test('token registry: push and pull with a Bearer token for the scopes they need', async (t) => {
  const tokens = await startTokenServer(t, user);
  const reg = await startRegistry(t, { token: tokens });
  const src = tempStore(t);
  const img = await syntheticImage(src, 'app', { layerSizes: [4000] });
  const fast = { retryBaseMs: 10, credentials: user };
  await push('app', `${reg.host}/team/app:1`, src, fast);
  t.true(tokens.requests.length > 0);
  t.true(tokens.requests.every((r) => r.service === tokens.service && r.authorized));
  t.true(tokens.requests.some((r) => r.scopes.includes('repository:team/app:pull,push')));

  // the second repository's push mounts from the first: its token also covers pulling from it
  const r = await push('app', `${reg.host}/other/app:1`, src, fast);
  t.is(r.mounted, 2);
  t.true(tokens.requests.some((q) => q.scopes.includes('repository:other/app:pull,push') && q.scopes.includes('repository:team/app:pull')));

  const c = tempStore(t);
  const got = await pull(`${reg.host}/team/app:1`, c, fast);
  t.is(got.manifest.digest, img.manifest.digest);
  t.true(tokens.requests.some((q) => q.scopes.join(' ') === 'repository:team/app:pull'));
});

test('token registry: without credentials the token server refuses and the error says to log in', async (t) => {
  const tokens = await startTokenServer(t, user);
  const reg = await startRegistry(t, { token: tokens });
  const e = await t.throwsAsync(pull(`${reg.host}/team/app:1`, tempStore(t), { retryBaseMs: 10, authFile: '/nonexistent/auth.json' }), { instanceOf: RegistryError });
  t.is(e!.code, 'EUNAUTHORIZED');
  t.is(e!.message, `${reg.host}: authentication required (strata login ${reg.host})`);
  const bad = await t.throwsAsync(pull(`${reg.host}/team/app:1`, tempStore(t), { retryBaseMs: 10, credentials: { username: 'alice', password: 'wrong' } }), { instanceOf: RegistryError });
  t.is(bad!.message, `${reg.host}: credentials rejected by the token server`);
});
