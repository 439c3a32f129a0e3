// The build module's entry for the CLI: checks the Dockerfile, opens the image store and
// the run module, builds. RUN steps run in src/run's containers (runstep.ts).
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { openStore, type ImageStore } from '../image/store.js';
import { BuildCache } from './cache.js';
import { build, type BuildOptions, type BuildResult } from './builder.js';
import { parseDockerfile } from './parser.js';
import { readDockerfile } from './instructions.js';
import { containerRunner } from './runstep.js';

/** SOURCE_DATE_EPOCH or --timestamp: epoch seconds or an ISO date. */
export function parseTimestamp(t: string | undefined, what: string): Date | undefined {
  if (t === undefined || t === '') return undefined;
  const d = /^\d+$/.test(t) ? new Date(Number(t) * 1000) : new Date(t);
  if (Number.isNaN(d.getTime())) throw new UserError(`${what}: not a time: ${t} (epoch seconds or an ISO date)`);
  return d;
}

/** --build-arg K=V, or K alone: the value of $K, as docker build takes it */
export function parseBuildArgs(list: readonly string[], env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq === 0) throw new UserError(`--build-arg ${a}: a name is needed before =`);
    if (eq > 0) m.set(a.slice(0, eq), a.slice(eq + 1));
    else if (env[a] !== undefined) m.set(a, env[a]!);
  }
  return m;
}

export async function buildImage(o: BuildOptions & { root?: string }): Promise<BuildResult> {
  if (!fs.statSync(o.contextDir, { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`${o.contextDir}: the build context is not a directory`);
  const file = o.dockerfile ?? path.join(o.contextDir, 'Dockerfile');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read the Dockerfile (${(e as { code?: string }).code ?? String(e)})`);
  }
  // a Dockerfile error is reported before the store is opened (nothing is written)
  readDockerfile(parseDockerfile(text, path.basename(file)));
  const store = openStore(o.root);
  return build({ ...o, dockerfile: file }, { store, runInContainer: containerRunner(store.root) });
}

/** `strata prune`'s part for builds: cache entries whose image was removed are dropped. */
export function pruneBuildCache(store: ImageStore): Promise<number> {
  return store.withLock(() => BuildCache.of(store.root).prune((id) => store.tryResolveImage(id) !== undefined));
}
