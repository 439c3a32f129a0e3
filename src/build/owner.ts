// --chown=USER[:GROUP]: ids as they are, names looked up in the image's /etc/passwd and
// /etc/group. Docker's rule: a user without a group also gives the group id.
import fs from 'node:fs';
import { BuildError } from './errors.js';
import type { LayerView } from './layerview.js';
import type { Owner } from './sources.js';

function readTable(view: LayerView, rel: string): string[][] {
  const node = view.lstat(rel);
  if (!node) return [];
  return fs.readFileSync(node.hostPath, 'utf8').split('\n').filter(Boolean).map((l) => l.split(':'));
}

export function resolveOwner(spec: string, view: LayerView): Owner {
  const [user = '', group] = spec.split(':', 2);
  const lookup = (name: string, rel: string, what: string): number => {
    if (/^\d+$/.test(name)) return Number(name);
    const row = readTable(view, rel).find((r) => r[0] === name);
    if (!row || row[2] === undefined) throw new BuildError(`--chown=${spec}: no ${what} "${name}" in the image's /${rel}`);
    return Number(row[2]);
  };
  if (!user) throw new BuildError(`--chown=${spec}: a user is needed`);
  const uid = lookup(user, 'etc/passwd', 'user');
  const gid = group === undefined || group === '' ? uid : lookup(group, 'etc/group', 'group');
  return { uid, gid };
}
