// Rootless id maps: the caller is root, its /etc/subuid and /etc/subgid ranges follow.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { idMaps, subRanges } from '../../src/run/helper.js';
import { tempDir } from '../helpers/tmp.js';

test('subordinate ranges by name or uid; other users and junk lines ignored', (t) => {
  const f = path.join(tempDir(t), 'subuid');
  fs.writeFileSync(f, 'alice:100000:65536\nbob:200000:65536\n1000:300000:10\n# comment\nalice:x:1\nalice:400000:0\n');
  t.deepEqual(subRanges(f, 'alice', 1000), [{ start: 100000, count: 65536 }, { start: 300000, count: 10 }]);
  t.deepEqual(subRanges(f, 'carol', 1001), []);
  t.deepEqual(subRanges(path.join(path.dirname(f), 'missing'), 'alice', 1000), []);
});

test('maps: caller to 0, then the ranges from 1 on (when newuidmap is there)', (t) => {
  const dir = tempDir(t);
  const me = os.userInfo().username;
  const uid = process.getuid!();
  const gid = process.getgid!();
  fs.writeFileSync(path.join(dir, 'subuid'), `${me}:100000:1000\n${me}:500000:10\n`);
  fs.writeFileSync(path.join(dir, 'subgid'), `${uid}:200000:1000\n`);
  const maps = idMaps({ subuid: path.join(dir, 'subuid'), subgid: path.join(dir, 'subgid') });
  t.deepEqual(maps.uid, [`0 ${uid} 1`, '1 100000 1000', '1001 500000 10']);
  t.deepEqual(maps.gid, [`0 ${gid} 1`, '1 200000 1000']);
  const none = idMaps({ subuid: path.join(dir, 'nope'), subgid: path.join(dir, 'subgid') });
  t.deepEqual(none, { uid: [`0 ${uid} 1`], gid: [`0 ${gid} 1`] }, 'both files need ranges');
});
