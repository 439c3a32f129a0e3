// Removing a container's directories. An upper dir holds whatever the container made:
// directories without write permission (which a non-root owner cannot empty until it
// restores the bit) and mountpoints of mounts that may still be going away.
import fs from 'node:fs';
import path from 'node:path';

export function removeTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw e;
  }
  openUp(dir);
  fs.rmSync(dir, { recursive: true, force: true });
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
