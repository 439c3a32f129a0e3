// Mount option parsing: the fuse-overlayfs / mount -t overlay syntax.
import test from 'ava';
import { parseOptions, splitEscaped, MountOptionError } from '../../src/union/params.js';

test('lowerdir is split on colons with backslash escapes; leftmost is the top', (t) => {
  const p = parseOptions(['lowerdir=/a\\:b:/c,upperdir=/u,workdir=/w']);
  t.deepEqual(p.config.lowers, ['/a:b', '/c']);
  t.is(p.config.upper, '/u');
  t.false(p.config.readOnly);
  t.deepEqual(splitEscaped('x\\,y,z', ','), ['x,y', 'z']);
});

test('no upperdir is a read-only union; ro too', (t) => {
  t.true(parseOptions(['lowerdir=/a']).config.readOnly);
  t.true(parseOptions(['lowerdir=/a,upperdir=/u,workdir=/w,ro']).config.readOnly);
});

test('fuse-overlayfs options: mappings, squash_to_root, volatile, fsync=0, timeout, userxattr; unknown ones are listed, not fatal', (t) => {
  const p = parseOptions(['lowerdir=/a,uidmapping=0:1000:1:1:100000:65536,gidmapping=0:1000:1', 'squash_to_root,fsync=0,timeout=5,userxattr,frob=1,rw']);
  t.deepEqual(p.config.uidMap, [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65536 }]);
  t.deepEqual(p.config.gidMap, [{ inside: 0, outside: 1000, count: 1 }]);
  t.true(p.config.squashToRoot);
  t.true(p.config.volatile);
  t.is(p.config.timeout, 5);
  t.true(p.config.userxattr);
  t.deepEqual(p.unknown, ['frob=1']);
});

test('bad option values name the option', (t) => {
  t.throws(() => parseOptions(['upperdir=/u,workdir=/w']), { instanceOf: MountOptionError, message: /lowerdir= is required/ });
  t.throws(() => parseOptions(['lowerdir=/a,upperdir=/u']), { message: /upperdir= needs workdir=/ });
  t.throws(() => parseOptions(['lowerdir=/a,uidmapping=0:1']), { message: /uidmapping=0:1/ });
  t.throws(() => parseOptions(['lowerdir=/a,timeout=soon']), { message: /timeout=soon/ });
});

test('readdirplus=auto|always (auto by default); anything else is refused', (t) => {
  t.is(parseOptions(['lowerdir=/a']).readdirplus, 'auto');
  t.is(parseOptions(['lowerdir=/a,readdirplus=always']).readdirplus, 'always');
  t.is(parseOptions(['lowerdir=/a,readdirplus=auto']).readdirplus, 'auto');
  t.throws(() => parseOptions(['lowerdir=/a,readdirplus=on']), { message: /readdirplus=on: expected auto or always/ });
});

test('passthrough=on|off (on by default: the daemon turns it off where the kernel or privileges do not allow it)', (t) => {
  t.true(parseOptions(['lowerdir=/a']).passthrough);
  t.true(parseOptions(['lowerdir=/a,passthrough=on']).passthrough);
  t.true(parseOptions(['lowerdir=/a,passthrough']).passthrough);
  t.false(parseOptions(['lowerdir=/a,passthrough=off']).passthrough);
  t.throws(() => parseOptions(['lowerdir=/a,passthrough=maybe']), { instanceOf: MountOptionError, message: /passthrough=maybe/ });
});

test('busy_poll=US: microseconds up to 1000 (unset: the session default); anything else is refused', (t) => {
  t.is(parseOptions(['lowerdir=/a']).busyPollUs, undefined);
  t.is(parseOptions(['lowerdir=/a,busy_poll=0']).busyPollUs, 0);
  t.is(parseOptions(['lowerdir=/a,busy_poll=200']).busyPollUs, 200);
  for (const bad of ['busy_poll=', 'busy_poll=-1', 'busy_poll=1.5', 'busy_poll=1001', 'busy_poll=on']) {
    t.throws(() => parseOptions([`lowerdir=/a,${bad}`]), { instanceOf: MountOptionError, message: new RegExp(`${bad}: expected microseconds`) }, bad);
  }
});
