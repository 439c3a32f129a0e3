// The multi-stage graph: which stages a build needs (--target, FROM an earlier stage,
// COPY --from a stage), in the order they are built, with each FROM expanded in the
// global ARG scope.
import { BuildError, DockerfileError } from './errors.js';
import type { Dockerfile, Stage } from './instructions.js';
import { ExpansionError, expandWord, type Lookup } from './words.js';
import type { RawInstruction } from './parser.js';
import type { BuildArgs } from './stage.js';
import { ociArch } from './config.js';

/** Args BuildKit defines in the global scope without an ARG line. */
export function platformArgs(): Map<string, string> {
  const arch = ociArch();
  const m = new Map<string, string>();
  for (const p of ['BUILD', 'TARGET']) {
    m.set(`${p}PLATFORM`, `linux/${arch}`);
    m.set(`${p}OS`, 'linux');
    m.set(`${p}ARCH`, arch);
    m.set(`${p}VARIANT`, '');
  }
  return m;
}

export interface PlannedStage {
  stage: Stage;
  /** the base after expansion: an image reference, 'scratch', or an earlier stage */
  base: { stage: number } | { image: string };
  /** stages whose files COPY --from reads */
  copiesFrom: number[];
}

export interface BuildPlan {
  /** in build order; the last one is the target */
  stages: PlannedStage[];
  globalArgs: Map<string, string | undefined>;
}

/** expandWord, its failure reported at the instruction's line */
function expandAt(df: Dockerfile, src: RawInstruction, word: string, lookup: Lookup): string {
  try {
    return expandWord(word, lookup, df.escape);
  } catch (e) {
    if (e instanceof ExpansionError) throw new DockerfileError(df.file, src.line, e.message, `${src.keyword} ${src.rest}`);
    throw e;
  }
}

export function evalGlobalArgs(df: Dockerfile, args: BuildArgs): Map<string, string | undefined> {
  const scope = new Map<string, string | undefined>(platformArgs());
  for (const ins of df.globalArgs) {
    for (const a of ins.args) {
      args.consumed.add(a.name);
      let v: string | undefined;
      if (args.given.has(a.name)) v = args.given.get(a.name);
      else if (a.default !== undefined) v = expandAt(df, ins.src, a.default, (n) => scope.get(n));
      else v = scope.get(a.name);
      scope.set(a.name, v);
    }
  }
  return scope;
}

/** A stage by name or by index (COPY --from=0), among the stages before `before`. */
export function findStage(df: Dockerfile, ref: string, before: number): Stage | undefined {
  const lower = ref.toLowerCase();
  const named = df.stages.find((s) => s.name === lower && s.index < before);
  if (named) return named;
  if (/^\d+$/.test(ref)) {
    const s = df.stages[Number(ref)];
    if (s && s.index < before) return s;
  }
  return undefined;
}

export function planBuild(df: Dockerfile, args: BuildArgs, target?: string): BuildPlan {
  const globalArgs = evalGlobalArgs(df, args);
  let last = df.stages[df.stages.length - 1]!;
  if (target !== undefined) {
    const t = df.stages.find((s) => s.name === target.toLowerCase());
    if (!t) {
      const names = df.stages.flatMap((x) => (x.name ? [x.name] : []));
      throw new BuildError(`--target ${target}: no stage of that name in ${df.file}${names.length ? ` (stages: ${names.join(', ')})` : ' (no stage has a name)'}`);
    }
    last = t;
  }
  const planned = new Map<number, PlannedStage>();
  const lookup = (n: string): string | undefined => globalArgs.get(n);
  const visit = (s: Stage): void => {
    if (planned.has(s.index)) return;
    const image = expandAt(df, s.from.src, s.from.image, lookup);
    if (!image) throw new DockerfileError(df.file, s.from.src.line, 'base name should not be blank', `FROM ${s.from.src.rest}`);
    if (s.from.platform !== undefined) {
      // one platform is built here: the machine's own (no emulation)
      const want = expandAt(df, s.from.src, s.from.platform, lookup);
      const own = globalArgs.get('TARGETPLATFORM')!;
      if (want !== own && !want.startsWith(`${own}/`)) {
        throw new DockerfileError(df.file, s.from.src.line, `--platform=${want}: only ${own} images can be built here`, `FROM ${s.from.src.rest}`);
      }
    }
    const baseStage = findStage(df, image, s.index);
    const copiesFrom: number[] = [];
    for (const ins of s.instructions) {
      if (ins.kind !== 'COPY' || ins.from === undefined) continue;
      let ref: string;
      try {
        ref = expandWord(ins.from, lookup, df.escape);
      } catch {
        continue; // stage-scoped variables: resolved when the step runs
      }
      const from = findStage(df, ref, s.index);
      if (from) copiesFrom.push(from.index);
      else if (df.stages.some((x) => x.name === ref.toLowerCase())) {
        throw new DockerfileError(df.file, ins.src.line, `COPY --from=${ref} names a later stage`, `COPY ${ins.src.rest}`);
      }
    }
    if (baseStage) visit(baseStage);
    for (const c of copiesFrom) visit(df.stages[c]!);
    planned.set(s.index, { stage: s, base: baseStage ? { stage: baseStage.index } : { image }, copiesFrom });
  };
  visit(last);
  return { stages: [...planned.values()].sort((a, b) => a.stage.index - b.stage.index), globalArgs };
}

/** Docker's warning for --build-arg values no ARG line consumed. */
export function unusedBuildArgs(args: BuildArgs, predefined: ReadonlySet<string>): string[] {
  return [...args.given.keys()].filter((k) => !args.consumed.has(k) && !predefined.has(k)).sort();
}
