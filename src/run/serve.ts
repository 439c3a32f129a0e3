// A foreground `strata run` serves its container's union in its own process: strata-init
// mounts /dev/fuse inside the container's mount namespace and sends the fd here over a
// socket (see mount_fuse in native/init/strata-init.c). That saves the mount daemon: a
// node start-up per run.
//
// Only as the host's root. Rootless, the mount is made in the container's user namespace
// and its requests carry ids of that namespace; a server outside it runs without the
// namespace root's capabilities: it could not open a mode-000 file the container's root
// may open (CAP_DAC_OVERRIDE), nor chown to the /etc/subuid ranges. The daemon inside the
// namespace has both, so rootless keeps it, as `-d` does (a detached container outlives
// this process) and as a $STRATA_MOUNT_PROGRAM does. STRATA_RUN_DAEMON=1 forces the daemon
// (for comparisons).
import fs from 'node:fs';
import { serveUnionFd, Union, unionKernelOptions } from '../fuse/serve.js';
import type { FuseSession } from '../fuse/session.js';
import * as sys from '../sys/index.js';
import { MountOptionError, parseOptions, validateConfig, type ParsedOptions } from '../union/params.js';
import { UserError } from '../errors.js';
import { mountArgs } from './helper.js';
import type { ContainerConfig, Layout } from './state.js';

export function servesInProcess(c: ContainerConfig): boolean {
  return !c.rootless && !c.detach && !process.env.STRATA_MOUNT_PROGRAM && process.env.STRATA_RUN_DAEMON !== '1';
}

/** The server half of one container's rootfs: made before strata-init is spawned. */
export class InProcessServer {
  /** the end strata-init gets (as its fd 4); closed here once it is spawned */
  readonly childSock: number;
  readonly kernelOptions: string[];
  private sock: number;
  private readonly parsed: ParsedOptions;
  private readonly log: string;
  private union: Union | undefined;
  private session: FuseSession | undefined;
  private failure: string | undefined;

  constructor(c: ContainerConfig, l: Layout) {
    const [, opts] = mountArgs(c.lowers, l);
    try {
      this.parsed = parseOptions([opts!]);
      this.parsed.config = validateConfig({ ...this.parsed.config, mountpoint: l.rootfs });
    } catch (e) {
      if (e instanceof MountOptionError) throw new UserError(e.message, 125);
      throw e;
    }
    this.kernelOptions = unionKernelOptions(this.parsed);
    this.log = l.mountLog;
    [this.sock, this.childSock] = sys.socketpair();
  }

  /** After the spawn: drop the child's end, open the layers while strata-init sets up. */
  spawned(): void {
    fs.closeSync(this.childSock);
    try {
      this.union = Union.open(this.parsed.config);
    } catch (e) {
      this.fail(e);
    }
  }

  /** Why serving failed, if it did (strata-init then fails the start). */
  get error(): string | undefined {
    return this.failure;
  }

  /** strata-init said "fuse": the fd is on the socket. Serve it, and once the kernel's
   * INIT is answered tell strata-init to go on. */
  serve(): void {
    if (this.sock < 0 || !this.union) return;
    try {
      const fd = sys.recvFd(this.sock);
      this.session = serveUnionFd(fd, this.parsed, {
        source: 'strata',
        log: (line) => fs.appendFileSync(this.log, `strata: ${line}\n`),
      }, this.union).session;
    } catch (e) {
      this.fail(e);
      return;
    }
    this.session.ready.then(
      () => {
        if (this.sock < 0) return;
        try {
          fs.writeSync(this.sock, 'r');
        } catch {
          // strata-init is gone: its own status says why
        }
        this.closeSock();
      },
      (e: unknown) => this.fail(e),
    );
    // a session that ends before INIT: EOF tells strata-init
    void this.session.closed.then(() => this.closeSock());
  }

  /** Once strata-init is gone its mount namespace is, and with it the kernel's connection:
   * the session ends by itself; waits for that (bounded, so a stuck one cannot hang us). */
  async finished(timeoutMs = 5000): Promise<void> {
    this.closeSock();
    if (!this.session) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.session.closed, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  private fail(e: unknown): void {
    this.failure ??= `cannot serve the union mount: ${e instanceof Error ? e.message : String(e)}`;
    // EOF on the socket: strata-init unmounts and fails the start
    this.closeSock();
  }

  private closeSock(): void {
    if (this.sock < 0) return;
    fs.closeSync(this.sock);
    this.sock = -1;
  }
}
