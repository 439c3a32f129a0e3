// Removing a container's directories. An upper dir holds whatever the container made:
// directories without write permission (which a non-root owner cannot empty until it
// restores the bit) and mountpoints of mounts that may still be going away.
//
// A walk of its own rather than fs.rmSync: the types readdir gives are enough to tell
// what to unlink and what to descend into (rmSync stats every entry and tries rmdir on
// each first), which halves the time a `run --rm` spends removing its record. Symlinks are
// unlinked, never followed.
import fs from 'node:fs';
import path from 'node:path';

const code = (e: unknown): string | undefined => (e as { code?: string }).code;

export function removeTree(dir: string): void {
  try {
    removeAll(dir);
    return;
  } catch (e) {
    if (code(e) !== 'EACCES' && code(e) !== 'EPERM') throw e;
  }
  openUp(dir);
  removeAll(dir);
}

function removeAll(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (code(e) === 'ENOENT') return;
    if (code(e) !== 'ENOTDIR') throw e;
    return unlinkIfThere(dir);
  }
  for (const d of entries) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) removeAll(p);
    else unlinkIfThere(p);
  }
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if (code(e) !== 'ENOENT') throw e;
  }
}

function unlinkIfThere(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch (e) {
    if (code(e) !== 'ENOENT') throw e;
  }
}

function openUp(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  try {
    fs.chmodSync(dir, 0o700);
  } catch {
    return;
  }
  for (const name of fs.readdirSync(dir)) openUp(path.join(dir, name));
}
