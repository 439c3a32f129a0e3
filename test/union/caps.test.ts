// security.capability answered without JS (capsCache): the kernel asks for it before every
// write(2) and chown(2) of a file. A file known to have none is answered ENODATA in C; a
// capability set, removed (by the kernel's killpriv on write) or set again through the
// mount is seen at once, never a stale "none".
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sh } from '../helpers/daemon.js';
import { mountStrata, sessionOf } from './mount-helper.js';
import { makeLayers } from './layers.js';



const caps = (file: string): string => spawnSync('getcap', [file], { encoding: 'utf8' }).stdout.trim();

/** n writes of one byte each, as separate write(2) calls on one open file */
function writes(file: string, n: number, flag = 'a'): void {
  const fd = fs.openSync(file, flag);
  try {
    for (let i = 0; i < n; i++) fs.writeSync(fd, 'x');
  } finally {
    fs.closeSync(fd);
  }
}

const root = process.getuid?.() === 0;
const asRoot = root ? test : test.skip;

asRoot('writes to a new file ask the daemon nothing about security.capability', (t) => {
  const l = makeLayers(t, [{}]);
  mountStrata(t, l);
  const f = path.join(l.mnt, 'new');
  const before = sessionOf(l.mnt);
  writes(f, 50, 'w');
  const after = sessionOf(l.mnt);
  t.true(after.capsAnswered - before.capsAnswered >= 50, `answered in C: ${after.capsAnswered - before.capsAnswered}`);
  // the create, its release and this getfattr, not a request per write
  t.true(after.jsRequests - before.jsRequests < 20, `requests JS saw: ${after.jsRequests - before.jsRequests}`);
  t.is(fs.readFileSync(f, 'utf8'), 'x'.repeat(50));
});

asRoot('a capability set through the mount is seen at once, killed by a write, and seen again when set again', (t) => {
  const l = makeLayers(t, [{ lower: 'l' }]);
  mountStrata(t, l);
  const f = path.join(l.mnt, 'prog');
  writes(f, 3, 'w'); // known to have none now
  t.is(caps(f), '');
  sh(`setcap cap_net_raw+ep ${f}`);
  t.regex(caps(f), /cap_net_raw=ep/, 'no stale ENODATA after the setxattr');
  t.regex(caps(path.join(l.upper, 'prog')), /cap_net_raw=ep/);
  // a write drops it (the kernel's killpriv sends a removexattr)...
  writes(f, 1);
  t.is(caps(f), '');
  t.is(caps(path.join(l.upper, 'prog')), '');
  // ...and a capability set again shows, though "none" was answered in between
  sh(`setcap cap_net_admin+ep ${f}`);
  t.regex(caps(f), /cap_net_admin=ep/);
  // chown drops it too, as on any filesystem
  sh(`chown 1:1 ${f}`);
  t.is(caps(f), '');
  t.is(caps(path.join(l.upper, 'prog')), '');
});

asRoot('a lower file with a capability keeps it through the mount and in its copy-up', (t) => {
  const l = makeLayers(t, [{ tool: 'bin' }]);
  sh(`setcap cap_net_raw+ep ${path.join(l.lowers[0]!, 'tool')}`);
  mountStrata(t, l);
  const f = path.join(l.mnt, 'tool');
  t.regex(caps(f), /cap_net_raw=ep/);
  t.regex(caps(f), /cap_net_raw=ep/, 'asked twice: a positive answer is not cached as none');
  sh(`touch -m -d '2001-01-01' ${f}`); // copy-up without a write
  t.regex(caps(path.join(l.upper, 'tool')), /cap_net_raw=ep/);
  t.regex(caps(f), /cap_net_raw=ep/);
});
