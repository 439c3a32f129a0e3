// The client half of `strata explain`: asks the mount's daemon through a hidden xattr
// query (getxattr "strata.explain" on the path, answered by the engine, never listed).
import path from 'node:path';
import { lgetxattr } from '../sys/index.js';
import { EXPLAIN_XATTR, formatExplain, type ExplainStep } from '../union/explain.js';
import { UserError } from './errors.js';

/** Asks the nearest existing ancestor about the rest, so a whited-out name is explained too. */
export function explainFile(p: string, json: boolean): string {
  let raw: Buffer | undefined;
  let dir = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      raw = lgetxattr(dir, rest.length ? `${EXPLAIN_XATTR}:${rest.join('/')}` : EXPLAIN_XATTR);
      break;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dir !== '/') {
        rest.unshift(path.basename(dir));
        dir = path.dirname(dir);
        continue;
      }
      throw new UserError(`${p}: not inside a Strata mount (${code ?? 'no answer'})`);
    }
  }
  if (json) return raw.toString();
  return formatExplain(JSON.parse(raw.toString()) as ExplainStep[]);
}
