// Where the store lives (contracts.md): --root, else $STRATA_ROOT, else /var/lib/strata as
// root and $XDG_DATA_HOME/strata or ~/.local/share/strata otherwise. The image store
// resolves the same way (src/image/root.ts: use that one once both are merged);
// containers live under <root>/containers.
import os from 'node:os';
import path from 'node:path';

export function storeRoot(root?: string): string {
  if (root) return path.resolve(root);
  if (process.env.STRATA_ROOT) return path.resolve(process.env.STRATA_ROOT);
  if (process.geteuid?.() === 0) return '/var/lib/strata';
  const data = process.env.XDG_DATA_HOME || path.join(process.env.HOME || os.homedir(), '.local', 'share');
  return path.join(data, 'strata');
}

export const isRootless = (): boolean => process.geteuid?.() !== 0;
