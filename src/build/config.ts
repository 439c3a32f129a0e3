// The OCI image config a build writes, with the fields Docker adds (Healthcheck, OnBuild,
// Shell), and the history entries of its steps. Structurally what src/image stores.

// a type (not an interface) so it fits the store's Record<string, unknown> Healthcheck
export type HealthConfig = {
  /** ["NONE"], ["CMD", args...] or ["CMD-SHELL", command] */
  Test: string[];
  /** nanoseconds, as Docker writes them */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
};

/** The store's runtime config, with Healthcheck typed as builds write it. */
export type ContainerConfig = Omit<StoredContainerConfig, 'Healthcheck'> & { Healthcheck?: HealthConfig };

import type { HistoryEntry } from '../run/image-config.js';
import type { ImageConfig as StoredImageConfig } from '../image/store.js';
import type { ContainerConfig as StoredContainerConfig } from '../image/media.js';
export type { HistoryEntry };

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  config: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Node's arch names -> OCI's */
export function ociArch(arch = process.arch): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[arch] ?? arch;
}

/** The config of FROM scratch: Docker gives it PATH and nothing else. */
export function scratchConfig(): ImageConfig {
  return {
    architecture: ociArch(),
    os: 'linux',
    config: { Env: [`PATH=${DEFAULT_PATH}`] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

/** A stored image's config as a build continues it: `config` always there. A Healthcheck
 * in a stored config is one a build (or Docker) wrote, so it has HealthConfig's shape. */
export function fromStored(c: StoredImageConfig): ImageConfig {
  const { config, ...rest } = structuredClone(c);
  const { Healthcheck, ...cfg } = config ?? {};
  return { ...rest, config: { ...cfg, ...(Healthcheck ? { Healthcheck: Healthcheck as unknown as HealthConfig } : {}) } };
}

export function cloneConfig<T>(c: T): T {
  return structuredClone(c);
}

/** ENV: replaces K=... in place, or appends. */
export function setEnv(env: string[], key: string, value: string): string[] {
  const out = [...env];
  const i = out.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

export function getEnv(env: readonly string[] | undefined, key: string): string | undefined {
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq < 0 ? e === key : e.slice(0, eq) === key) return eq < 0 ? '' : e.slice(eq + 1);
  }
  return undefined;
}

/** A string list as Go's %q of a []string prints it, which Docker's history uses:
 * ["/bin/sh" "-c" "echo hi"] */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

/** Go's time.Duration String(): 1m30s, 500ms, 0s (Docker's history prints them so) */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${+(ns / 1e3).toFixed(3)}µs`;
  if (ns < 1e9) return `${+(ns / 1e6).toFixed(6)}ms`;
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const sec = +((ns % 60e9) / 1e9).toFixed(9);
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${sec}s`;
}
