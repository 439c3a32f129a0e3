// The builder: runs a Dockerfile's plan step by step, like Docker's classic builder. Each
// step's image is kept (a failed build leaves the last good one to debug), each step is
// looked up in the cache first, RUN runs in a container, COPY/ADD write a layer dir.
//
// What it needs from the other modules (wired in index.ts):
//
// image (src/image/store.ts) — BuildStore below is the part of ImageStore the builder
//   calls: root, resolveImage(ref), tryResolveImage(ref), commit({...}), tag(image, ref).
//   commit() is given the config the new image has (`config.config` as this step leaves
//   it, `author`; no rootfs or history: the store appends the layer's diff_id, unless
//   emptyLayer, and the history entry to the parent's); `timestamp` becomes `created` of
//   the config and of the history entry. The layer dir is the builder's temp dir (or a
//   RUN container's upper): the store makes the layer tar from it and extracts its own
//   copy, the builder removes what is left when the build ends. The cache (cache.ts)
//   lives in <root>/build-cache/; `strata prune` drops entries whose image is gone.
//
// run (src/run) — one function:
//   runInContainer(opts: RunStepOptions): Promise<RunStepResult>
//     lowers    the image's layer dirs, TOP FIRST, under a fresh empty upper dir (for a
//               `RUN <<EOF` script with #!, a small builder-made layer is on top)
//     argv      what to exec (already includes SHELL for the shell form)
//     env       KEY=VALUE list, exactly as given (no PATH added)
//     user      '' for root, else USER as written: name, uid, name:group, uid:gid,
//               resolved in the container's /etc/passwd and /etc/group
//     workdir   absolute; created (root, 0755) if the image lacks it, as Docker does
//     network   'host' unless 'none'
//     onOutput  the command's stdout and stderr, as they come
//   -> { exitCode, upperDir (overlay format: whiteouts 0/0, opaque xattr), exclude
//        (paths the runtime wrote into upperDir), release() }
//   The builder commits upperDir (with exclude) as the step's layer, then calls release()
//   to remove the container. src/build/runstep.ts implements it on src/run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BuildError } from './errors.js';
import { UserError } from '../errors.js';
import { parseDockerfile, type RawInstruction } from './parser.js';
import { parseInstruction, readDockerfile, type Dockerfile, type Instruction } from './instructions.js';
import { findStage, planBuild, unusedBuildArgs, platformArgs } from './plan.js';
import { PROXY_ARGS, StageState, type BuildArgs, type Step } from './stage.js';
import { cloneConfig, fromStored, scratchConfig, type HistoryEntry, type ImageConfig } from './config.js';
import { BuildCache, hashEntries, stepKey } from './cache.js';
import { IgnoreMatcher } from './dockerignore.js';
import { ContextTree, ImageTree, resolveCopy, resolveImagePath, type CopyEntry, type SourceTree } from './sources.js';
import { LayerView } from './layerview.js';
import { clampTree, writeEntries } from './copy.js';
import { resolveOwner } from './owner.js';
import { download, isUrl, verifyChecksum } from './url.js';
import { squashLayers } from './squash.js';
import { unpackArchive } from './archive.js';
import type { ImageStore, ResolvedImage } from '../image/store.js';

/** The image store's image: the builder reads id, layerDirs (top first) and config. */
export type BuildImage = ResolvedImage;

/** The part of the image store (src/image/store.ts) the builder calls. */
export type BuildStore = Pick<ImageStore, 'root' | 'resolveImage' | 'tryResolveImage' | 'commit' | 'tag'>;

export interface RunStepOptions {
  lowers: string[];
  argv: string[];
  env: string[];
  user: string;
  workdir: string;
  network: 'host' | 'none';
  onOutput: (chunk: Buffer) => void;
}

export interface RunStepResult {
  exitCode: number;
  upperDir: string;
  /** upper-dir paths the runtime wrote (mountpoints, /etc/hosts it binds over): not the layer's */
  exclude?: string[];
  release(): void | Promise<void>;
}

export interface BuildDeps {
  store: BuildStore;
  runInContainer(opts: RunStepOptions): Promise<RunStepResult>;
}

export interface BuildOptions {
  contextDir: string;
  /** default CONTEXT/Dockerfile */
  dockerfile?: string;
  tags?: string[];
  buildArgs?: Map<string, string>;
  target?: string;
  noCache?: boolean;
  squash?: boolean;
  /** --timestamp or SOURCE_DATE_EPOCH: created times, and no file time later than it */
  timestamp?: Date;
  /** one line of progress (no newline) */
  log?: (line: string) => void;
  /** a RUN step's output */
  output?: (chunk: Buffer) => void;
}

export interface BuildResult {
  image: BuildImage;
  /** steps served from the cache, of all steps */
  cached: number;
  steps: number;
  warnings: string[];
}

/** sha256:0123456789ab... -> 0123456789ab */
export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

interface StageResult {
  image: BuildImage | null;
  config: ImageConfig;
}

/** A step of the build as the user sees it: "Step 3/7 : RUN make" */
interface Counter {
  n: number;
  total: number;
}

function originalText(src: RawInstruction): string {
  return `${src.keyword} ${src.rest}`.trim();
}

/** An empty dir for metadata-only commits, and for COPY layers: removed when the build ends. */
class Scratch {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-build-'));
  private n = 0;
  make(): string {
    const d = path.join(this.dir, String(this.n++));
    fs.mkdirSync(d);
    return d;
  }
  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

class Build {
  private readonly log: (line: string) => void;
  private readonly output: (chunk: Buffer) => void;
  private readonly cache: BuildCache;
  private readonly scratch = new Scratch();
  private readonly context: SourceTree;
  private readonly clamp: number | undefined;
  private readonly now: number;
  private cachedSteps = 0;
  /** the last image a step made or reused: printed when a later step fails */
  private lastGood: BuildImage | null = null;
  private df: Dockerfile | undefined;
  /** the stage being built: COPY --from names only stages before it */
  private stageIndex = 0;

  constructor(
    private readonly o: BuildOptions,
    private readonly deps: BuildDeps,
  ) {
    this.log = o.log ?? (() => {});
    this.output = o.output ?? (() => {});
    this.cache = BuildCache.of(deps.store.root);
    this.context = new ContextTree(o.contextDir, IgnoreMatcher.forBuild(o.contextDir, o.dockerfile ?? path.join(o.contextDir, 'Dockerfile')));
    this.clamp = o.timestamp ? Math.floor(o.timestamp.getTime() / 1000) : undefined;
    this.now = this.clamp ?? Math.floor(Date.now() / 1000);
  }

  async run(): Promise<BuildResult> {
    try {
      return await this.runPlan();
    } finally {
      this.scratch.dispose();
    }
  }

  private async runPlan(): Promise<BuildResult> {
    const o = this.o;
    const file = o.dockerfile ?? path.join(o.contextDir, 'Dockerfile');
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new BuildError(`${file}: cannot read the Dockerfile (${(e as { code?: string }).code ?? (e as Error).message})`);
    }
    const df = readDockerfile(parseDockerfile(text, path.basename(file)));
    this.df = df;
    const args: BuildArgs = { given: new Map(o.buildArgs ?? []), consumed: new Set() };
    const plan = planBuild(df, args, o.target);
    const counter: Counter = { n: 0, total: plan.stages.reduce((sum, p) => sum + 1 + p.stage.instructions.length, 0) };
    const results = new Map<number, StageResult>();

    let final: StageResult | undefined;
    for (const [i, p] of plan.stages.entries()) {
      const isLast = i === plan.stages.length - 1;
      this.stageIndex = p.stage.index;
      this.step(counter, originalText(p.stage.from.src));
      let base: StageResult;
      if ('stage' in p.base) base = results.get(p.base.stage)!;
      else if (p.base.image.toLowerCase() === 'scratch') base = { image: null, config: scratchConfig() };
      else {
        const img = this.resolveAt(p.base.image, df.file, p.stage.from.src);
        base = { image: img, config: fromStored(img.config) };
      }
      this.log(base.image ? ` ---> ${shortId(base.image.id)}` : ' ---> (scratch)');
      if (base.image) this.lastGood = base.image;

      const state = new StageState(this.baseConfig(base.config), df.file, df.escape, args, plan.globalArgs);
      let current = base.image;
      const triggers = base.config.config?.OnBuild ?? [];
      if (triggers.length) {
        this.log(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}`);
        const parsed = parseDockerfile(triggers.join('\n'), `${df.file} (ONBUILD)`);
        for (const raw of parsed.instructions) {
          const ins = parseInstruction(parsed, { ...raw, line: p.stage.from.src.line });
          current = await this.runStep(state, ins, current, results, df.file, null);
        }
      }
      for (const ins of p.stage.instructions) {
        current = await this.runStep(state, ins, current, results, df.file, counter);
      }
      if (isLast && o.squash && current && current !== base.image) {
        current = await this.squash(current, base.image, state.image);
      }
      const result = { image: current, config: state.image };
      results.set(p.stage.index, result);
      final = result;
    }

    if (!final?.image) throw new BuildError('no image was generated: is the Dockerfile empty (only FROM scratch)?');
    const warnings: string[] = [];
    const unused = unusedBuildArgs(args, new Set([...PROXY_ARGS, ...platformArgs().keys()]));
    if (unused.length) {
      const w = `[Warning] One or more build-args [${unused.join(' ')}] were not consumed`;
      warnings.push(w);
      this.log(w);
    }
    this.log(`Successfully built ${shortId(final.image.id)}`);
    for (const t of o.tags ?? []) {
      this.deps.store.tag(final.image, t);
      this.log(`Successfully tagged ${t.split('/').pop()!.includes(':') ? t : `${t}:latest`}`);
    }
    return { image: final.image, cached: this.cachedSteps, steps: counter.n, warnings };
  }

  /** A stage starts from its base's config; ONBUILD triggers are spent in this one. */
  private baseConfig(c: ImageConfig): ImageConfig {
    const cfg = cloneConfig(c);
    cfg.config ??= {};
    if (cfg.config.OnBuild?.length) cfg.config.OnBuild = null;
    return cfg;
  }

  private step(counter: Counter, text: string): void {
    counter.n++;
    this.log(`Step ${counter.n}/${counter.total} : ${text}`);
  }

  private async runStep(
    state: StageState,
    ins: Instruction,
    parent: BuildImage | null,
    results: Map<number, StageResult>,
    file: string,
    counter: Counter | null,
  ): Promise<BuildImage> {
    const text = originalText(ins.src);
    if (counter) this.step(counter, text);
    else this.log(` ---> ${text}`);
    const step = state.apply(ins);
    const config = cloneConfig(state.image);

    let prepared: Prepared;
    try {
      prepared = await this.prepare(step, parent, results);
    } catch (e) {
      if (e instanceof UserError) throw new BuildError(`${file}:${ins.src.line}: ${text}: ${e.message}`);
      throw e;
    }
    // the config the step leaves is part of the key: an effect its history line does not
    // spell out (a HEALTHCHECK option, say) still misses the cache when it changes
    const parts = [...prepared.keyParts, JSON.stringify({ config: config.config, author: config.author ?? '' })];
    if (this.o.timestamp) parts.push(`timestamp=${this.o.timestamp.toISOString()}`);
    const key = stepKey(parent?.id ?? null, parts);

    if (!this.o.noCache) {
      const hit = this.fromCache(key);
      if (hit) {
        this.cachedSteps++;
        this.log(' ---> Using cache');
        this.log(` ---> ${shortId(hit.id)}`);
        this.lastGood = hit;
        return hit;
      }
    }
    const image = await prepared.execute(config, (msg) => this.fail(counter, text, msg));
    this.cache.set(key, image.id);
    this.log(` ---> ${shortId(image.id)}`);
    this.lastGood = image;
    return image;
  }

  /** an image the Dockerfile names; the store's error gains the Dockerfile line */
  private resolveAt(ref: string, file: string, src: RawInstruction): BuildImage {
    try {
      return this.deps.store.resolveImage(ref);
    } catch (e) {
      if (e instanceof UserError) throw new BuildError(`${file}:${src.line}: ${originalText(src)}: ${e.message}`);
      throw e;
    }
  }

  private fromCache(key: string): BuildImage | undefined {
    const id = this.cache.get(key);
    // undefined when the image was removed since: the step is built again
    return id ? this.deps.store.tryResolveImage(id) : undefined;
  }

  private fail(counter: Counter | null, text: string, message: string): never {
    const where = counter ? `step ${counter.n}/${counter.total} (${text})` : `ONBUILD trigger (${text})`;
    const good = this.lastGood
      ? `; the last good image is ${shortId(this.lastGood.id)}: strata run -it ${shortId(this.lastGood.id)} sh`
      : '';
    throw new BuildError(`${where} failed: ${message}${good}`);
  }

  private commit(parent: BuildImage | null, layerDir: string, config: ImageConfig, createdBy: string, emptyLayer: boolean, exclude?: string[]): Promise<BuildImage> {
    const history: HistoryEntry = { created_by: createdBy };
    if (config.author) history.author = config.author;
    // rootfs and history come from the parent, in the store
    const { rootfs: _r, history: _h, created: _c, ...own } = config;
    void _r, _h, _c;
    return this.deps.store.commit({
      parent,
      layerDir,
      ...(exclude?.length ? { exclude } : {}),
      config: own,
      history,
      emptyLayer,
      ...(this.o.timestamp ? { timestamp: this.o.timestamp } : {}),
    });
  }

  /** What a step depends on (its cache key) and how to carry it out. */
  private async prepare(step: Step, parent: BuildImage | null, results: Map<number, StageResult>): Promise<Prepared> {
    const view = new LayerView(parent?.layerDirs ?? []);
    switch (step.type) {
      case 'meta':
        return {
          keyParts: [step.createdBy],
          execute: (config) => this.commit(parent, this.scratch.make(), config, step.createdBy, true),
        };
      case 'workdir':
        return {
          keyParts: [step.createdBy],
          execute: (config) => {
            const dir = resolveImagePath(new ImageTree('image', parent?.layerDirs ?? []), step.dir);
            if (dir === '/' || view.isDir(dir.slice(1))) return this.commit(parent, this.scratch.make(), config, step.createdBy, true);
            const upper = this.scratch.make();
            writeEntries(upper, [{ kind: 'dir', dest: dir, mode: 0o755, uid: 0, gid: 0, mtime: this.now, mtimeNsec: 0 }], {
              lowerAttr: (abs) => view.lstat(abs.slice(1))?.attr,
              now: this.now,
              clamp: this.clamp,
            });
            return this.commit(parent, upper, config, step.createdBy, false);
          },
        };
      case 'run':
        return {
          keyParts: [step.createdBy],
          execute: async (config, fail) => {
            const lowers = [...(parent?.layerDirs ?? [])];
            if (step.script) lowers.unshift(this.scriptLayer(step.script));
            const r = await this.deps.runInContainer({
              lowers,
              argv: step.argv,
              env: step.env,
              user: step.user,
              workdir: step.workdir,
              network: step.network === 'none' ? 'none' : 'host',
              onOutput: this.output,
            });
            try {
              if (r.exitCode !== 0) fail(`the command '${step.argv.join(' ')}' returned a non-zero code: ${r.exitCode}`);
              if (this.clamp !== undefined) clampTree(r.upperDir, this.clamp);
              return await this.commit(parent, r.upperDir, config, step.createdBy, false, r.exclude);
            } finally {
              await r.release();
            }
          },
        };
      case 'copy':
        return this.prepareCopy(step, parent, view, results);
    }
  }

  /** a lower layer holding just the heredoc script RUN executes */
  private scriptLayer(script: { path: string; content: string }): string {
    const dir = this.scratch.make();
    const file = path.join(dir, script.path);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, script.content, { mode: 0o755 });
    return dir;
  }

  private async prepareCopy(step: Extract<Step, { type: 'copy' }>, parent: BuildImage | null, view: LayerView, results: Map<number, StageResult>): Promise<Prepared> {
    const keyword = step.ins.kind;
    let tree = this.context;
    let fromId = '';
    if (step.from !== undefined) {
      const s = findStage(this.df!, step.from, this.stageIndex);
      const stage = s ? results.get(s.index) : undefined;
      if (s && !stage) throw new BuildError(`--from=${step.from}: stage ${s.name ?? s.index} was not built (name it without stage-scoped variables)`);
      const img = stage ? stage.image : this.deps.store.resolveImage(step.from);
      if (!img) throw new BuildError(`--from=${step.from}: that stage has no files (FROM scratch with no steps)`);
      tree = new ImageTree(stage ? `stage ${step.from}` : `image ${step.from}`, img.layerDirs);
      fromId = img.id;
    }
    const owner = step.chown === undefined ? undefined : resolveOwner(step.chown, view);
    const imageTree = new ImageTree('image', parent?.layerDirs ?? []);
    const urls = keyword === 'ADD' ? step.sources.filter(isUrl) : [];
    const local = step.sources.filter((s) => !urls.includes(s));
    const heredocs = new Map(step.heredocs);
    // a download is a source like a heredoc: named, with bytes
    const downloaded = new Map<string, { content: Buffer; mtime?: number }>();
    if (step.checksum !== undefined && (urls.length !== 1 || local.length > 0)) {
      throw new BuildError(`--checksum=${step.checksum}: needs exactly one URL source`);
    }
    for (const u of urls) {
      const d = await download(u);
      if (step.checksum !== undefined) verifyChecksum(u, d.content, step.checksum);
      downloaded.set(d.name, d);
      heredocs.set(d.name, d.content);
    }
    const entries: CopyEntry[] = resolveCopy({
      keyword,
      tree,
      sources: [...local, ...[...downloaded.keys()].map((n) => `<<${n}`)],
      heredocs,
      dest: step.dest,
      workdir: step.workdir,
      chown: owner,
      chmod: step.chmod,
      isDirInImage: (abs) => view.isDir(abs.slice(1)),
      resolveDest: (abs) => resolveImagePath(imageTree, abs),
      exclude: step.exclude.length ? new IgnoreMatcher(step.exclude) : undefined,
      unpackArchives: keyword === 'ADD' && step.from === undefined,
      now: this.now,
    });
    for (const e of entries) {
      const d = e.content && downloaded.get(path.posix.basename(e.dest));
      if (d) {
        e.mode = step.chmod ?? 0o600;
        if (d.mtime !== undefined) e.mtime = d.mtime;
      }
    }
    const hash = hashEntries(entries);
    const named = entries.filter((e) => e.source);
    const kind = named.length !== 1 ? 'multi' : named[0]!.kind === 'dir' ? 'dir' : 'file';
    const destShown = kind === 'file' ? named[0]!.dest : path.posix.resolve(step.workdir, step.dest);
    const createdBy = `${keyword} ${kind}:${hash} in ${destShown}`;
    return {
      keyParts: [createdBy, `from=${fromId}`],
      execute: async (config) => {
        const unpacked = new Map<CopyEntry, string>();
        for (const e of entries.filter((x) => x.kind === 'archive')) {
          const dir = this.scratch.make();
          await unpackArchive(e.hostPath!, dir, path.basename(e.hostPath!));
          if (this.clamp !== undefined) clampTree(dir, this.clamp);
          unpacked.set(e, dir);
        }
        const upper = this.scratch.make();
        writeEntries(upper, entries, { lowerAttr: (abs) => view.lstat(abs.slice(1))?.attr, now: this.now, clamp: this.clamp, unpacked });
        return this.commit(parent, upper, config, createdBy, false);
      },
    };
  }

  private async squash(top: BuildImage, base: BuildImage | null, config: ImageConfig): Promise<BuildImage> {
    const own = top.layerDirs.slice(0, top.layerDirs.length - (base?.layerDirs.length ?? 0));
    if (own.length === 0) return top; // metadata-only steps: nothing to merge
    this.log(`Squashing ${own.length} layer${own.length === 1 ? '' : 's'} into one`);
    const createdBy = `merge ${top.id} to ${base?.id ?? 'scratch'}`;
    const parts = [createdBy, ...(this.o.timestamp ? [`timestamp=${this.o.timestamp.toISOString()}`] : [])];
    const key = stepKey(base?.id ?? null, parts);
    const hit = this.o.noCache ? undefined : this.fromCache(key);
    if (hit) {
      this.log(' ---> Using cache');
      this.log(` ---> ${shortId(hit.id)}`);
      return hit;
    }
    const out = this.scratch.make();
    squashLayers(own, base?.layerDirs ?? [], out);
    const image = await this.commit(base, out, cloneConfig(config), createdBy, false);
    this.cache.set(key, image.id);
    this.log(` ---> ${shortId(image.id)}`);
    return image;
  }
}

interface Prepared {
  keyParts: string[];
  execute(config: ImageConfig, fail: (message: string) => never): Promise<BuildImage>;
}

/** Builds the Dockerfile; the final image is tagged with each of o.tags. */
export function build(o: BuildOptions, deps: BuildDeps): Promise<BuildResult> {
  return new Build(o, deps).run();
}
