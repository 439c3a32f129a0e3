// GETATTR of a directory or file the mount made, answered in C from an fd of it (attrFd):
// it happens (one per entry made in a dir, one per chown of a file), and the attr is what
// the upper shows through changes, on both session loops; merged dirs stay with JS.
import test from 'ava';
import path from 'node:path';
import { sh } from '../helpers/daemon.js';
import { mountStrata, sessionOf } from './mount-helper.js';
import { makeLayers } from './layers.js';

const root = process.getuid?.() === 0;
const asRoot = root ? test.serial : test.skip;

const attrsAnswered = (mnt: string): number => sessionOf(mnt).attrsAnswered;
const statOf = (p: string): string => sh(`stat -c '%i %h %s %Y %a %u %g' ${p}`).out.trim();

for (const loop of ['js', 'threads']) {
  asRoot(`${loop} loop: dirs and files the mount made have their GETATTRs answered in C, showing the upper's attr through changes`, (t) => {
    const old = process.env.STRATA_FUSE_LOOP;
    process.env.STRATA_FUSE_LOOP = loop;
    t.teardown(() => (old === undefined ? delete process.env.STRATA_FUSE_LOOP : (process.env.STRATA_FUSE_LOOP = old)));
    const l = makeLayers(t, [{ low: { f: 'x' }, gone: { g: 'y' }, mdir: { hid: { inner: '1' } } }], { mdir: { '.wh.hid': '' } });
    mountStrata(t, l);
    const m = l.mnt;
    sh(`mkdir ${m}/d`);
    const before = attrsAnswered(m);
    sh(`for i in $(seq 20); do touch ${m}/d/f$i; done; mkdir ${m}/d/sub`);
    t.true(attrsAnswered(m) - before >= 15, 'the parent GETATTR after each entry made is answered in C');
    t.is(statOf(`${m}/d`), statOf(path.join(l.upper, 'd')), 'ino, nlink, size, mtime, mode, owner as the upper shows');
    sh(`chmod 0750 ${m}/d; chown 12:34 ${m}/d; touch -d @1000000000 ${m}/d`);
    t.is(statOf(`${m}/d`), statOf(path.join(l.upper, 'd')));
    t.regex(statOf(`${m}/d`), / 1000000000 750 12 34$/);
    sh(`mv ${m}/d ${m}/e; touch ${m}/e/after; rmdir ${m}/e/sub`);
    t.is(statOf(`${m}/e`), statOf(path.join(l.upper, 'e')), 'the fd followed the rename');
    // a file CREATE made: its GETATTRs (one before each chown) from C too, through writes,
    // a chown clearing set-uid, a hard link, a truncate and a rename
    sh(`echo hello > ${m}/e/file; chmod 4755 ${m}/e/file`);
    const files = attrsAnswered(m);
    sh(`chown 5:6 ${m}/e/file`);
    t.true(attrsAnswered(m) > files, "the chown's GETATTR is answered in C");
    t.is(statOf(`${m}/e/file`), statOf(path.join(l.upper, 'e/file')));
    t.regex(statOf(`${m}/e/file`), / 755 5 6$/, 'chown cleared set-uid');
    sh(`ln ${m}/e/file ${m}/e/link; printf more >> ${m}/e/link`);
    t.regex(statOf(`${m}/e/file`), /^\d+ 2 10 /, 'two links, ten bytes');
    t.is(statOf(`${m}/e/file`), statOf(path.join(l.upper, 'e/file')));
    sh(`truncate -s 2 ${m}/e/file; mv ${m}/e/file ${m}/e/moved`);
    t.is(statOf(`${m}/e/moved`), statOf(path.join(l.upper, 'e/moved')));
    t.is(statOf(`${m}/e/link`), statOf(path.join(l.upper, 'e/link')));
    // a merged dir shows nlink 1 (JS): it never gets an fd
    sh(`touch ${m}/low/new`);
    t.is(sh(`stat -c %h ${m}/low`).out.trim(), '1');
    // a dir made where a .wh. marker hid a lower one merges with it (nlink 1): no fd
    sh(`mkdir ${m}/mdir/hid; touch ${m}/mdir/hid/more`);
    t.is(sh(`ls ${m}/mdir/hid`).out.trim(), 'inner\nmore');
    t.is(sh(`stat -c %h ${m}/mdir/hid`).out.trim(), '1');
    // a dir made over a whited-out lower dir is opaque, nothing below: its own attr
    sh(`rm -rf ${m}/gone; mkdir ${m}/gone; mkdir ${m}/gone/x`);
    t.is(statOf(`${m}/gone`), statOf(path.join(l.upper, 'gone')));
    t.is(sh(`ls ${m}/gone`).out.trim(), 'x');
  });
}
