// Container records under <root>/containers/<id>/: what was asked (config.json), what
// started (state.json, written once the command runs), how it ended (exit, written by
// strata-init). Names are symlinks in containers/.names, so claiming one is atomic.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { bootId, isAlive, type ProcRef } from './proc.js';
import { removeTree } from './tree.js';
import type { ImageConfig } from './image-config.js';

export interface Volume {
  source: string;
  target: string;
  readOnly: boolean;
}

/** What `strata run` asked for, fully resolved against the image. */
export interface ContainerConfig {
  id: string;
  name: string;
  created: string;
  image: { id: string; ref: string };
  /** the image's layer dirs, top first */
  lowers: string[];
  /** the image's config as it was when the container was made (commit starts from it) */
  imageConfig: ImageConfig;
  /** Entrypoint + cmd, what runs */
  argv: string[];
  /** the command part (run's CMD... or the image's Cmd), kept for commit */
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  hostname: string;
  network: 'none' | 'host';
  volumes: Volume[];
  tty: boolean;
  interactive: boolean;
  autoRemove: boolean;
  detach: boolean;
  rootless: boolean;
  /** the strata process that is starting it (a record with no state.json and a dead creator is stale) */
  creator: ProcRef;
  bootId: string;
}

/** Written once the command runs. */
export interface ContainerState {
  /** the container's pid 1 as seen from the host */
  init: ProcRef;
  /** strata-init, the supervisor outside the container */
  supervisor: ProcRef;
  /** the FUSE daemon serving the rootfs */
  daemon?: ProcRef;
  uid: number;
  gid: number;
  started: string;
  bootId: string;
}

export type Status = 'created' | 'running' | 'exited' | 'stale';

export interface Container {
  dir: string;
  config: ContainerConfig;
  state?: ContainerState;
  status: Status;
  exitCode?: number;
  finished?: string;
}

export const containersDir = (root: string): string => path.join(root, 'containers');
const namesDir = (root: string): string => path.join(containersDir(root), '.names');
const ID_RE = /^[0-9a-f]{64}$/;
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const shortId = (id: string): string => id.slice(0, 12);

export function newId(): string {
  return crypto.randomBytes(32).toString('hex');
}

/** Paths of one container's directory. */
export function layout(dir: string) {
  return {
    dir,
    config: path.join(dir, 'config.json'),
    state: path.join(dir, 'state.json'),
    exit: path.join(dir, 'exit'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    rootfs: path.join(dir, 'rootfs'),
    log: path.join(dir, 'container.log'),
    mountLog: path.join(dir, 'mount.log'),
    hostname: path.join(dir, 'hostname'),
    hosts: path.join(dir, 'hosts'),
    resolvConf: path.join(dir, 'resolv.conf'),
  };
}
export type Layout = ReturnType<typeof layout>;

// The order that keeps a crash anywhere recoverable: a record's dir exists before its name
// link is made, and its name link is removed before its dir. So a link to an id with no
// dir is always stale (a killed strata of an older order, or a dir removed by hand) and a
// new claim may take it; a dir with no link (a strata killed while removing it) is still a
// record, found by the name in its config (findContainer) and removed by `rm -f`.

export function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new UserError(`invalid container name "${name}": use letters, digits, _ . -`, 125);
}

/** Claims NAME for ID, whose record dir already exists; UserError when another container has it. */
export function claimName(root: string, name: string, id: string): void {
  checkName(name);
  fs.mkdirSync(namesDir(root), { recursive: true });
  const link = path.join(namesDir(root), name);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.symlinkSync(id, link);
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
    const holder = readLinkOr(link);
    if (attempt > 0 || !ID_RE.test(holder) || fs.existsSync(path.join(containersDir(root), holder)))
      throw new UserError(`the container name "${name}" is already in use by container ${shortId(holder)}`, 125);
    dropStaleLink(link, holder);
  }
}

/** Removes LINK if it still points at STALE. The link is renamed aside first and put back
 * with link(2), which never replaces, if a claim made in between got there. */
function dropStaleLink(link: string, stale: string): void {
  const aside = `${link}.stale.${process.pid}`;
  try {
    fs.renameSync(link, aside);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return;
    throw e;
  }
  try {
    if (readLinkOr(aside) !== stale) fs.linkSync(aside, link);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
  } finally {
    fs.unlinkSync(aside);
  }
}

function readLinkOr(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '?';
  }
}

/** A name from the id, as Docker's are unique without asking: a word pair would do too. */
export function defaultName(id: string): string {
  return `strata_${id.slice(0, 12)}`;
}

function writeJson(p: string, value: unknown): void {
  const tmp = `${p}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, p);
}

export function writeConfig(l: Layout, c: ContainerConfig): void {
  writeJson(l.config, c);
}

export function writeState(l: Layout, s: ContainerState): void {
  writeJson(l.state, s);
}

function readJson<T>(p: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8')) as T;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Loads one record and works out its status from what is running now. */
export function loadContainer(dir: string): Container | undefined {
  const l = layout(dir);
  const config = readJson<ContainerConfig>(l.config);
  if (!config) return undefined;
  const state = readJson<ContainerState>(l.state);
  const c: Container = { dir, config, state, status: 'stale' };
  let exit: string | undefined;
  try {
    exit = fs.readFileSync(l.exit, 'utf8');
    c.finished = fs.statSync(l.exit).mtime.toISOString();
  } catch {
    exit = undefined;
  }
  const thisBoot = bootId();
  if (exit !== undefined) {
    c.status = 'exited';
    c.exitCode = Number.parseInt(exit, 10);
  } else if (state) {
    c.status = state.bootId === thisBoot && isAlive(state.init) ? 'running' : 'stale';
  } else {
    c.status = config.bootId === thisBoot && isAlive(config.creator) ? 'created' : 'stale';
  }
  return c;
}

export function listContainers(root: string): Container[] {
  let names: string[];
  try {
    names = fs.readdirSync(containersDir(root));
  } catch {
    return [];
  }
  const out: Container[] = [];
  for (const n of names) {
    if (!ID_RE.test(n)) continue;
    const c = loadContainer(path.join(containersDir(root), n));
    if (c) out.push(c);
  }
  return out.sort((a, b) => b.config.created.localeCompare(a.config.created));
}

/** A container by name, full id or unique id prefix; UserError naming REF otherwise. */
export function findContainer(root: string, ref: string): Container {
  if (NAME_RE.test(ref)) {
    const id = readLinkOr(path.join(namesDir(root), ref));
    const c = ID_RE.test(id) ? loadContainer(path.join(containersDir(root), id)) : undefined;
    if (c) return c;
    // a record whose removal was cut short after its name was freed
    const orphan = listContainers(root).find((o) => o.config.name === ref);
    if (orphan) return orphan;
  }
  if (/^[0-9a-f]+$/.test(ref)) {
    const hits = listContainers(root).filter((c) => c.config.id.startsWith(ref));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw new UserError(`container id prefix ${ref} is ambiguous: ${hits.length} containers match`);
  }
  throw new UserError(`no such container: ${ref}`);
}

/** Deletes the record and frees its name (the caller made sure nothing runs): the name
 * first, so no link is ever left pointing at a half-removed dir. */
export function deleteRecord(root: string, c: { dir: string; config: { id: string; name: string } }): void {
  const link = path.join(namesDir(root), c.config.name);
  if (readLinkOr(link) === c.config.id) {
    try {
      fs.unlinkSync(link);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw e;
    }
  }
  removeTree(c.dir);
}
