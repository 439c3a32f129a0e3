// Many processes at once on the subject: stress-ng's hdd, dir, rename, link and xattr
// stressors (bounded: 10 s by default; cleanup runs past it), then the daemon still up and the kernel reading the upper
// as the subject showed it.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { diffSnapshots, snapshot } from '../helpers/snapshot.js';
import { copyLayers, makeLayers } from '../helpers/layers.js';
import { daemonPids, mountUnion, scratchDir, subjectFromEnv, subjectUnavailable, unionDirs } from '../helpers/union.js';
import { knownTreeDivergence } from './known-divergences.js';

const subject = subjectFromEnv();
const unavailable = subjectUnavailable(subject);
const SECONDS = Number(process.env.STRATA_COMPAT_STRESS_SECONDS ?? 8);

const title = `${subject} survives stress-ng hdd, dir, rename, link and xattr workers for ${SECONDS} s, and its upper stays consistent`;
if (unavailable) test.skip(`${title} (${unavailable})`, () => {});
else
  test(title, (t) => {
    const started = BigInt(Date.now() - 2000) * 1_000_000n;
    const dir = scratchDir(t);
    const lowers = copyLayers(makeLayers(path.join(dir, 'src')), dir, 'lowers');
    const d = unionDirs(dir, 'subject');
    const m = mountUnion(t, subject, { lowers, ...d });
    const pids = daemonPids(d.mnt);
    const tmp = path.join(d.mnt, 'stress');
    fs.mkdirSync(tmp);
    const r = spawnSync(
      'stress-ng',
      ['--temp-path', tmp, '--timeout', `${SECONDS}s`, '--hdd', '2', '--hdd-bytes', '8M', '--dir', '2', '--dir-dirs', '1024', '--rename', '2', '--link', '2', '--xattr', '2', '--metrics-brief', '--verify'],
      { encoding: 'utf8', timeout: (SECONDS + 60) * 1000 },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    t.log(out.split('\n').filter((l) => /metrc|stressor|bogo|hdd|dir|rename|link|xattr/.test(l)).slice(0, 12).join('\n'));
    t.is(r.status, 0, `stress-ng exit ${r.status ?? r.signal}: ${out.slice(-2000)}`);
    t.notRegex(out, /\bfail(ed|ure)?\b.*[1-9]|error:/i, 'no stressor reported a failure');
    const alive = pids.filter((p) => {
      try {
        process.kill(p, 0);
        return true;
      } catch {
        return false;
      }
    });
    t.deepEqual(alive, pids, 'the daemon is still alive');
    fs.statfsSync(d.mnt);
    const merged = snapshot(d.mnt);
    m.unmount();
    const k = unionDirs(dir, 'kernel');
    mountUnion(t, 'kernel', { lowers, upper: d.upper, work: d.work, mnt: k.mnt });
    t.deepEqual(diffSnapshots(merged, snapshot(k.mnt), { recentNs: started, ignore: knownTreeDivergence(subject, t) }, [subject, 'kernel on its upper']), []);
  });
