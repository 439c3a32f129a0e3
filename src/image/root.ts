import os from 'node:os';
import path from 'node:path';

/** The store root: --root, else $STRATA_ROOT, else /var/lib/strata for root and the XDG
 * data dir otherwise. */
export function storeRoot(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.STRATA_ROOT) return path.resolve(process.env.STRATA_ROOT);
  if (process.geteuid?.() === 0) return '/var/lib/strata';
  const data = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(data, 'strata');
}
