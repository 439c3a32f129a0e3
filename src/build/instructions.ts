// What each instruction's arguments mean: flags, JSON (exec) versus shell form, key=value
// pairs, heredocs. Values stay unexpanded here: expansion depends on the ARG and ENV in
// scope at that point of the build (plan.ts).
import { DockerfileError } from './errors.js';
import { KEYWORDS, type Heredoc, type ParsedDockerfile, type RawInstruction } from './parser.js';
import { splitWords } from './words.js';

/** exec form (JSON array) or shell form (one string given to SHELL) */
export type CommandForm = { exec: string[] } | { shell: string };

interface Base {
  src: RawInstruction;
}
export interface FromInstruction extends Base {
  kind: 'FROM';
  image: string;
  name?: string;
  platform?: string;
}
export interface RunInstruction extends Base {
  kind: 'RUN';
  cmd: CommandForm;
  flags: Record<string, string>;
}
export interface CmdInstruction extends Base {
  kind: 'CMD' | 'ENTRYPOINT';
  cmd: CommandForm;
}
export interface CopyInstruction extends Base {
  kind: 'COPY' | 'ADD';
  /** unexpanded; a heredoc source is named by its delimiter and listed in heredocs */
  sources: string[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  checksum?: string;
  /** --exclude patterns (repeatable), unexpanded */
  exclude: string[];
  heredocs: Heredoc[];
}
export interface PairsInstruction extends Base {
  kind: 'ENV' | 'LABEL';
  /** key and value as written (quotes kept) */
  pairs: [string, string][];
}
export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: { name: string; default?: string }[];
}
export interface ValueInstruction extends Base {
  kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER';
  value: string;
}
export interface ListInstruction extends Base {
  kind: 'EXPOSE' | 'VOLUME';
  items: string[];
  /** VOLUME ["/a"]: JSON items are not split again after expansion */
  json: boolean;
}
export interface ShellInstruction extends Base {
  kind: 'SHELL';
  shell: string[];
}
export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  /** null for HEALTHCHECK NONE */
  cmd: CommandForm | null;
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}
export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** the trigger as Docker stores it: keyword upper case, arguments as written */
  trigger: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | CopyInstruction
  | PairsInstruction
  | ArgInstruction
  | ValueInstruction
  | ListInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;

// 'list' flags may repeat; --link is accepted and changes nothing here (every COPY layer
// is already independent of what is under it)
const ALLOWED_FLAGS: Record<string, Record<string, 'string' | 'bool' | 'list'>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'list', network: 'string', security: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', exclude: 'list' },
  ADD: { chown: 'string', chmod: 'string', link: 'bool', checksum: 'string', exclude: 'list' },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

class Reader {
  constructor(
    readonly p: ParsedDockerfile,
    readonly src: RawInstruction,
  ) {}
  fail(message: string): never {
    throw new DockerfileError(this.p.file, this.src.line, message, `${this.src.keyword} ${this.src.rest}`.trim());
  }
}

/** Leading --name[=value] words; the rest of the text after them. */
function takeFlags(r: Reader, rest: string): { flags: Record<string, string>; lists: Record<string, string[]>; rest: string } {
  const allowed = ALLOWED_FLAGS[r.src.keyword] ?? {};
  const flags: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  let text = rest;
  for (;;) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(=(\S*))?(\s+|$)/.exec(text);
    if (!m) break;
    const [, name, eq, value] = m;
    const type = allowed[name!];
    if (!type) r.fail(`unknown flag: --${name}`);
    if (type !== 'bool' && eq === undefined) r.fail(`flag --${name} needs a value (--${name}=VALUE)`);
    if (type === 'bool' && value !== undefined && !['true', 'false', ''].includes(value)) {
      r.fail(`flag --${name} takes true or false, not ${value}`);
    }
    if (type === 'list') (lists[name!] ??= []).push(value!);
    else if (name! in flags) r.fail(`duplicate flag specified: --${name}`);
    else flags[name!] = type === 'bool' ? (value === 'false' ? 'false' : 'true') : value!;
    text = text.slice(m[0].length);
  }
  return { flags, lists, rest: text };
}

/** A JSON array of strings, or undefined when the text is not one (then it is shell form,
 * as Docker decides it: no error for a text that merely looks like JSON). */
function jsonArray(text: string): string[] | undefined {
  const t = text.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // not JSON: shell form
  }
  return undefined;
}

function commandForm(r: Reader, text: string): CommandForm {
  const exec = jsonArray(text);
  if (exec) return { exec };
  if (!text.trim()) r.fail(`${r.src.keyword} requires at least one argument`);
  return { shell: text };
}

/** Docker's old `KEY value` form or the `K=V K2="v 2"` form. */
function pairs(r: Reader, text: string): [string, string][] {
  const words = splitWords(text, r.p.escape);
  if (words.length === 0) r.fail(`${r.src.keyword} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)\s+(.*)$/s.exec(text.trim());
    if (!m) r.fail(`${r.src.keyword} must have two arguments`);
    return [[m[1]!, m[2]!]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) r.fail(`syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** Go's time.ParseDuration subset Docker accepts in HEALTHCHECK, in nanoseconds. */
function duration(r: Reader, flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let s = v;
  if (s === '0') return 0;
  while (s) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(s);
    if (!m) r.fail(`--${flag}: invalid duration ${v}`);
    total += Number(m[1]) * unit[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return Math.round(total);
}

function parseOne(r: Reader): Instruction {
  const src = r.src;
  const { flags, lists, rest } = takeFlags(r, src.rest);
  switch (src.keyword) {
    case 'FROM': {
      const w = splitWords(rest, r.p.escape);
      if (w.length === 0) r.fail('FROM requires the name of a base image');
      if (w.length === 2 || w.length > 3 || (w.length === 3 && w[1]!.toUpperCase() !== 'AS')) {
        r.fail('FROM requires either one or three arguments (FROM IMAGE [AS NAME])');
      }
      const name = w[2]?.toLowerCase();
      if (name !== undefined && !/^[a-z][a-z0-9._-]*$/.test(name)) r.fail(`invalid name for build stage: "${w[2]}", name can't start with a number or contain symbols`);
      return { kind: 'FROM', src, image: w[0]!, name, platform: flags.platform };
    }
    case 'RUN':
      if (lists.mount) r.fail('RUN --mount is not supported by this builder');
      if (flags.security !== undefined) r.fail('RUN --security is not supported by this builder');
      if (flags.network !== undefined && !['none', 'host', 'default'].includes(flags.network)) r.fail(`RUN --network=${flags.network}: none, host or default`);
      return { kind: 'RUN', src, cmd: commandForm(r, rest), flags };
    case 'CMD':
    case 'ENTRYPOINT':
      return { kind: src.keyword, src, cmd: commandForm(r, rest) };
    case 'COPY':
    case 'ADD': {
      const w = jsonArray(rest) ?? splitWords(rest, r.p.escape);
      const fromHeredoc = new Map(src.heredocs.map((h) => [h.name, h]));
      const sources = w.slice(0, -1).map((s) => {
        const m = /^<<-?(.+)$/.exec(s);
        if (!m) return s;
        const name = m[1]!.replace(/^(["'])(.*)\1$/, '$2');
        return fromHeredoc.has(name) ? `<<${name}` : s;
      });
      if (w.length < 2) r.fail(`${src.keyword} requires at least two arguments, but only one was provided. Destination could not be determined`);
      return {
        kind: src.keyword,
        src,
        sources,
        dest: w[w.length - 1]!,
        from: flags.from,
        chown: flags.chown,
        chmod: flags.chmod,
        link: flags.link === 'true',
        checksum: flags.checksum,
        exclude: lists.exclude ?? [],
        heredocs: src.heredocs,
      };
    }
    case 'ENV':
    case 'LABEL':
      return { kind: src.keyword, src, pairs: pairs(r, rest) };
    case 'ARG': {
      const w = splitWords(rest, r.p.escape);
      if (w.length === 0) r.fail('ARG requires at least one argument');
      return {
        kind: 'ARG',
        src,
        args: w.map((word) => {
          const eq = word.indexOf('=');
          const name = eq < 0 ? word : word.slice(0, eq);
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) r.fail(`invalid ARG name "${name}"`);
          return eq < 0 ? { name } : { name, default: word.slice(eq + 1) };
        }),
      };
    }
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER': {
      if (!rest.trim()) r.fail(`${src.keyword} requires exactly one argument`);
      if (src.keyword === 'WORKDIR' || src.keyword === 'STOPSIGNAL') {
        if (splitWords(rest, r.p.escape).length !== 1) r.fail(`${src.keyword} requires exactly one argument`);
      }
      return { kind: src.keyword, src, value: rest.trim() };
    }
    case 'EXPOSE':
    case 'VOLUME': {
      const json = src.keyword === 'VOLUME' ? jsonArray(rest) : undefined;
      const items = json ?? splitWords(rest, r.p.escape);
      if (items.length === 0) r.fail(`${src.keyword} requires at least one argument`);
      return { kind: src.keyword, src, items, json: json !== undefined };
    }
    case 'SHELL': {
      const shell = jsonArray(rest);
      if (!shell || shell.length === 0) r.fail('SHELL requires the arguments to be in JSON form');
      return { kind: 'SHELL', src, shell };
    }
    case 'HEALTHCHECK': {
      const m = /^(\S+)\s*(.*)$/s.exec(rest.trim());
      const type = m?.[1]?.toUpperCase();
      const options = {
        interval: duration(r, 'interval', flags.interval),
        timeout: duration(r, 'timeout', flags.timeout),
        startPeriod: duration(r, 'start-period', flags['start-period']),
        startInterval: duration(r, 'start-interval', flags['start-interval']),
        retries: flags.retries === undefined ? undefined : Number(flags.retries),
      };
      if (options.retries !== undefined && !(Number.isInteger(options.retries) && options.retries >= 0)) r.fail(`--retries: not a count: ${flags.retries}`);
      if (type === 'NONE') {
        if (m![2] || Object.keys(flags).length) r.fail('HEALTHCHECK NONE takes no other arguments');
        return { kind: 'HEALTHCHECK', src, cmd: null };
      }
      if (type !== 'CMD') r.fail(`unknown type "${m?.[1] ?? ''}" in HEALTHCHECK (try CMD)`);
      return { kind: 'HEALTHCHECK', src, cmd: commandForm(r, m![2]!), ...options };
    }
    case 'ONBUILD': {
      const m = /^(\S+)\s*(.*)$/s.exec(rest.trim());
      if (!m) r.fail('ONBUILD requires at least one argument');
      const kw = m[1]!.toUpperCase();
      if (kw === 'ONBUILD') r.fail("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (kw === 'FROM' || kw === 'MAINTAINER') r.fail(`${kw} isn't allowed as an ONBUILD trigger`);
      if (!KEYWORDS.has(kw)) r.fail(`unknown instruction in ONBUILD: ${m[1]}`);
      return { kind: 'ONBUILD', src, trigger: `${kw} ${m[2]}`.trim() };
    }
  }
  return r.fail(`unknown instruction: ${src.keyword}`);
}

export function parseInstruction(p: ParsedDockerfile, src: RawInstruction): Instruction {
  return parseOne(new Reader(p, src));
}

export interface Stage {
  index: number;
  /** lower case, as Docker compares stage names */
  name?: string;
  from: FromInstruction;
  instructions: Instruction[];
}

export interface Dockerfile {
  file: string;
  escape: string;
  /** the ARGs before the first FROM: usable in FROM lines only, unless a stage re-declares them */
  globalArgs: ArgInstruction[];
  stages: Stage[];
}

export function readDockerfile(p: ParsedDockerfile): Dockerfile {
  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const raw of p.instructions) {
    const ins = parseInstruction(p, raw);
    if (ins.kind === 'FROM') {
      if (ins.name) {
        if (names.has(ins.name)) throw new DockerfileError(p.file, raw.line, `duplicate stage name "${ins.name}"`, `FROM ${raw.rest}`);
        names.add(ins.name);
      }
      stages.push({ index: stages.length, name: ins.name, from: ins, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.kind !== 'ARG') throw new DockerfileError(p.file, raw.line, 'no build stage in current context (the first instruction must be FROM or ARG)', `${raw.keyword} ${raw.rest}`);
      globalArgs.push(ins);
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new DockerfileError(p.file, Math.max(1, p.instructions.length ? p.instructions[p.instructions.length - 1]!.line : 1), 'the Dockerfile has no FROM instruction');
  return { file: p.file, escape: p.escape, globalArgs, stages };
}
