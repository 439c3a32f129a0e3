import { constants as osConstants } from 'node:os';

const errnoByCode = osConstants.errno as Record<string, number>;
const codeByErrno = new Map<number, string>(Object.entries(errnoByCode).map(([k, v]) => [v, k]));

/** Every failure of a syscall, native or node:fs, as one type holding a positive errno. */
export class SysError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string | undefined;
  readonly path: string | undefined;

  constructor(errno: number, syscall?: string, path?: string, message?: string) {
    const code = codeByErrno.get(errno) ?? `E${errno}`;
    // an errno is an answer, not a bug: no stack is captured (that cost most of a FUSE
    // request whose answer is ENOENT or ENODATA); the message names the call and path
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message ?? `${code}: ${syscall ?? 'operation'}${path ? ` '${path}'` : ''}`);
    Error.stackTraceLimit = limit;
    this.name = 'SysError';
    this.errno = errno;
    this.code = code;
    this.syscall = syscall;
    this.path = path;
  }
}

export function errnoOf(code: string): number {
  const n = errnoByCode[code];
  if (n === undefined) throw new Error(`unknown errno name ${code}`);
  return n;
}

export const E = {
  EPERM: errnoOf('EPERM'),
  ENOENT: errnoOf('ENOENT'),
  EIO: errnoOf('EIO'),
  EBADF: errnoOf('EBADF'),
  EACCES: errnoOf('EACCES'),
  EBUSY: errnoOf('EBUSY'),
  EEXIST: errnoOf('EEXIST'),
  EXDEV: errnoOf('EXDEV'),
  ENOTDIR: errnoOf('ENOTDIR'),
  EISDIR: errnoOf('EISDIR'),
  EINVAL: errnoOf('EINVAL'),
  ENOSPC: errnoOf('ENOSPC'),
  EROFS: errnoOf('EROFS'),
  EMLINK: errnoOf('EMLINK'),
  ERANGE: errnoOf('ERANGE'),
  ENAMETOOLONG: errnoOf('ENAMETOOLONG'),
  ENOSYS: errnoOf('ENOSYS'),
  ENOTEMPTY: errnoOf('ENOTEMPTY'),
  ENODATA: errnoOf('ENODATA'),
  ENOTSUP: errnoOf('ENOTSUP'),
  EOPNOTSUPP: errnoOf('EOPNOTSUPP'),
  ENOTCONN: errnoOf('ENOTCONN'),
  ELOOP: errnoOf('ELOOP'),
  ESTALE: errnoOf('ESTALE'),
} as const;

/** The errno of anything thrown: ours, node:fs's (negative errno), or EIO for the rest. */
export function errnoFrom(e: unknown): number {
  if (e instanceof SysError) return e.errno;
  if (e && typeof e === 'object') {
    const o = e as { errno?: unknown; code?: unknown };
    if (typeof o.errno === 'number' && o.errno !== 0) return Math.abs(o.errno);
    if (typeof o.code === 'string' && errnoByCode[o.code] !== undefined) return errnoByCode[o.code]!;
  }
  return E.EIO;
}

/** Turns whatever a syscall threw into a SysError (keeps SysErrors as they are). */
export function toSysError(e: unknown): SysError {
  if (e instanceof SysError) return e;
  const o = (e && typeof e === 'object' ? e : {}) as { syscall?: string; path?: string; message?: string };
  const err = new SysError(errnoFrom(e), o.syscall, o.path, o.message);
  return err;
}

export function hasErrno(e: unknown, errno: number): boolean {
  return errnoFrom(e) === errno;
}
