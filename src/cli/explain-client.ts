// The client half of `strata explain`: asks the mount's daemon through a hidden xattr
// query (getxattr "strata.explain" on the path, answered by the engine, never listed).
import { lgetxattr } from '../sys/index.js';
import { EXPLAIN_XATTR, formatExplain, type ExplainStep } from '../union/explain.js';
import { UserError } from './errors.js';

export function explainFile(p: string, json: boolean): string {
  let raw: Buffer;
  try {
    raw = lgetxattr(p, EXPLAIN_XATTR);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new UserError(`${p}: no such file or directory (explain the parent to see what hid it)`);
    throw new UserError(`${p}: not inside a Strata mount (${code ?? 'no answer'})`);
  }
  if (json) return raw.toString();
  return formatExplain(JSON.parse(raw.toString()) as ExplainStep[]);
}
