// One build stage's evaluation: the ARG and ENV in scope, variable expansion, and what each
// instruction does to the image config (and its history entry). Pure: no files. The
// builder asks it for a Step per instruction and carries out the ones that touch files.
import path from 'node:path';
import { DockerfileError } from './errors.js';
import type { CommandForm, CopyInstruction, Instruction } from './instructions.js';
import { ExpansionError, expandWord, expandWords } from './words.js';
import { DEFAULT_SHELL, cloneConfig, getEnv, goDuration, goQuoteList, setEnv, type ImageConfig } from './config.js';
import type { Heredoc } from './parser.js';

/** Usable by RUN without an ARG line, and kept out of history and the cache (Docker's rule). */
export const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

export interface BuildArgs {
  /** --build-arg values */
  given: Map<string, string>;
  /** names an ARG line declared (to warn about the given ones no ARG consumed) */
  consumed: Set<string>;
}

export type Step =
  | { type: 'meta'; createdBy: string }
  | { type: 'workdir'; createdBy: string; dir: string }
  | {
      type: 'run';
      createdBy: string;
      argv: string[];
      env: string[];
      user: string;
      workdir: string;
      network?: string;
      /** a lone heredoc starting with #!: a file the builder puts at argv[0] for the run */
      script?: { path: string; content: string };
    }
  | {
      type: 'copy';
      ins: CopyInstruction;
      sources: string[];
      dest: string;
      from?: string;
      chown?: string;
      chmod?: number;
      heredocs: Map<string, Buffer>;
      exclude: string[];
      checksum?: string;
      workdir: string;
    };

const SIGNALS = ['HUP', 'INT', 'QUIT', 'ILL', 'TRAP', 'ABRT', 'BUS', 'FPE', 'KILL', 'USR1', 'SEGV', 'USR2', 'PIPE', 'ALRM', 'TERM', 'STKFLT', 'CHLD', 'CONT', 'STOP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'XCPU', 'XFSZ', 'VTALRM', 'PROF', 'WINCH', 'IO', 'PWR', 'SYS'];

/** where a RUN heredoc script is put for its run (in a lower layer of its own, so it never
 * becomes part of the image) */
export const HEREDOC_DIR = '/.strata-heredoc';

function loneHeredoc(shell: string, heredocs: readonly Heredoc[]): boolean {
  return heredocs.length === 1 && /^<<-?(["']?)[^\s]+\1$/.test(shell.trim());
}

export class StageState {
  readonly image: ImageConfig;
  /** ARGs declared in this stage, with their values (undefined: declared, no value) */
  private readonly args = new Map<string, string | undefined>();
  private cmdSet = false;

  constructor(
    base: ImageConfig,
    private readonly file: string,
    private readonly escape: string,
    private readonly buildArgs: BuildArgs,
    /** the global scope: values of the ARGs before the first FROM */
    private readonly globalArgs: ReadonlyMap<string, string | undefined>,
  ) {
    this.image = cloneConfig(base);
    this.image.config ??= {};
  }

  get shell(): string[] {
    return this.image.config.Shell ?? DEFAULT_SHELL;
  }

  /** ENV wins over ARG of the same name, as in Docker. */
  lookup = (name: string): string | undefined => getEnv(this.image.config.Env, name) ?? this.args.get(name);

  private fail(ins: Instruction, message: string): never {
    throw new DockerfileError(this.file, ins.src.line, message, `${ins.src.keyword} ${ins.src.rest}`.trim());
  }

  /** an expansion, its failure reported at the instruction's line */
  private expanded<T>(ins: Instruction, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ExpansionError) this.fail(ins, e.message);
      throw e;
    }
  }

  private word(ins: Instruction, w: string): string {
    return this.expanded(ins, () => expandWord(w, this.lookup, this.escape));
  }

  private words(ins: Instruction, w: string): string[] {
    return this.expanded(ins, () => expandWords(w, this.lookup, this.escape));
  }

  private nop(text: string): Step {
    return { type: 'meta', createdBy: `${this.shell.join(' ')} #(nop)  ${text}` };
  }

  private argv(c: CommandForm): string[] {
    return 'exec' in c ? c.exec : [...this.shell, c.shell];
  }

  /** The ARGs with a value RUN sees as env, in declaration order (history: `|N K=V`). */
  private argEnv(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.args) if (v !== undefined && getEnv(this.image.config.Env, k) === undefined) out.push(`${k}=${v}`);
    return out;
  }

  /** the shell form text RUN runs: a lone heredoc is the script, else the heredocs follow */
  private runText(shell: string, heredocs: Heredoc[]): string {
    if (heredocs.length === 0) return shell;
    if (loneHeredoc(shell, heredocs)) return heredocs[0]!.content;
    return shell + '\n' + heredocs.map((h) => `${h.content}${h.name}\n`).join('');
  }

  /** `ARG` in this stage: a --build-arg wins, then the default, then the global value.
   * The history (and so the cache key) holds the default as written, not the value: a
   * changed --build-arg misses the cache at its first use, not here (Docker's rule). */
  private declare(ins: Instruction, name: string, def: string | undefined): string {
    this.buildArgs.consumed.add(name);
    let value: string | undefined;
    if (this.buildArgs.given.has(name)) value = this.buildArgs.given.get(name);
    else if (def !== undefined) value = this.word(ins, def);
    else value = this.globalArgs.get(name);
    this.args.set(name, value);
    return def === undefined ? name : `${name}=${def}`;
  }

  apply(ins: Instruction): Step {
    const cfg = this.image.config;
    switch (ins.kind) {
      case 'FROM':
        return this.fail(ins, 'FROM inside a stage');
      case 'ARG':
        return this.nop(`ARG ${ins.args.map((a) => this.declare(ins, a.name, a.default)).join(' ')}`);
      case 'ENV': {
        // every pair sees the env as it was before this line (Docker's rule)
        const pairs = ins.pairs.map(([k, v]) => [this.word(ins, k), this.word(ins, v)] as const);
        let env = cfg.Env ?? [];
        for (const [k, v] of pairs) {
          if (!k) this.fail(ins, 'ENV names must not be empty');
          env = setEnv(env, k, v);
        }
        cfg.Env = env;
        return this.nop(`ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      }
      case 'LABEL': {
        const pairs = ins.pairs.map(([k, v]) => [this.word(ins, k), this.word(ins, v)] as const);
        cfg.Labels = { ...(cfg.Labels ?? {}) };
        for (const [k, v] of pairs) cfg.Labels[k] = v;
        return this.nop(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`);
      }
      case 'WORKDIR': {
        const w = this.word(ins, ins.value);
        const dir = path.posix.normalize(path.posix.isAbsolute(w) ? w : path.posix.join(cfg.WorkingDir || '/', w));
        cfg.WorkingDir = dir;
        return { type: 'workdir', createdBy: `${this.shell.join(' ')} #(nop)  WORKDIR ${dir}`, dir };
      }
      case 'USER': {
        const u = this.word(ins, ins.value);
        cfg.User = u;
        return this.nop(`USER ${u}`);
      }
      case 'STOPSIGNAL': {
        const s = this.word(ins, ins.value);
        const name = s.toUpperCase().replace(/^SIG/, '');
        const num = Number(s);
        if (!(SIGNALS.includes(name) || /^RTMIN\+\d+$/.test(name)) && !(Number.isInteger(num) && num > 0 && num < 65)) {
          this.fail(ins, `invalid signal: ${s}`);
        }
        cfg.StopSignal = s;
        return this.nop(`STOPSIGNAL ${s}`);
      }
      case 'MAINTAINER': {
        this.image.author = ins.value;
        return this.nop(`MAINTAINER ${ins.value}`);
      }
      case 'EXPOSE': {
        const ports = ins.items.flatMap((i) => this.words(ins, i));
        cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of ports) for (const k of this.portKeys(ins, p)) cfg.ExposedPorts[k] = {};
        return this.nop(`EXPOSE ${ports.map((p) => this.portKeys(ins, p).join(' ')).join(' ')}`);
      }
      case 'VOLUME': {
        const vols = ins.json ? ins.items.map((i) => this.word(ins, i)) : ins.items.flatMap((i) => this.words(ins, i));
        cfg.Volumes = { ...(cfg.Volumes ?? {}) };
        for (const v of vols) {
          if (!v.trim()) this.fail(ins, 'VOLUME specified can not be an empty string');
          cfg.Volumes[v] = {};
        }
        return this.nop(`VOLUME [${vols.join(' ')}]`);
      }
      case 'SHELL':
        cfg.Shell = [...ins.shell];
        return this.nop(`SHELL ${goQuoteList(ins.shell)}`);
      case 'CMD': {
        cfg.Cmd = this.argv(ins.cmd);
        this.cmdSet = true;
        return this.nop(`CMD ${goQuoteList(cfg.Cmd)}`);
      }
      case 'ENTRYPOINT': {
        cfg.Entrypoint = this.argv(ins.cmd);
        // an inherited CMD makes no sense with a new ENTRYPOINT; one set in this stage stays
        if (!this.cmdSet) cfg.Cmd = null;
        return this.nop(`ENTRYPOINT ${goQuoteList(cfg.Entrypoint)}`);
      }
      case 'HEALTHCHECK': {
        if (ins.cmd === null) cfg.Healthcheck = { Test: ['NONE'] };
        else {
          const test = 'exec' in ins.cmd ? ['CMD', ...ins.cmd.exec] : ['CMD-SHELL', ins.cmd.shell];
          cfg.Healthcheck = { Test: test };
          if (ins.interval !== undefined) cfg.Healthcheck.Interval = ins.interval;
          if (ins.timeout !== undefined) cfg.Healthcheck.Timeout = ins.timeout;
          if (ins.startPeriod !== undefined) cfg.Healthcheck.StartPeriod = ins.startPeriod;
          if (ins.startInterval !== undefined) cfg.Healthcheck.StartInterval = ins.startInterval;
          if (ins.retries !== undefined) cfg.Healthcheck.Retries = ins.retries;
        }
        const hc = cfg.Healthcheck;
        const d = (n: number | undefined): string => JSON.stringify(goDuration(n ?? 0));
        return this.nop(`HEALTHCHECK &{${goQuoteList(hc.Test)} ${d(hc.Interval)} ${d(hc.Timeout)} ${d(hc.StartPeriod)} ${d(hc.StartInterval)} ${hc.Retries ?? 0}}`);
      }
      case 'ONBUILD':
        cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.trigger];
        return this.nop(`ONBUILD ${ins.trigger}`);
      case 'RUN': {
        const shellText = 'exec' in ins.cmd ? undefined : this.runText(ins.cmd.shell, ins.src.heredocs);
        const lone = shellText !== undefined && 'shell' in ins.cmd && loneHeredoc(ins.cmd.shell, ins.src.heredocs);
        // a script with its own interpreter runs as a file, as BuildKit runs it
        const script = lone && shellText.startsWith('#!') ? { path: `${HEREDOC_DIR}/${ins.src.heredocs[0]!.name}`, content: shellText } : undefined;
        const argv = 'exec' in ins.cmd ? ins.cmd.exec : script ? [script.path] : [...this.shell, shellText!];
        const argEnv = this.argEnv();
        const proxies = [...this.buildArgs.given].filter(([k]) => PROXY_ARGS.has(k) && !this.args.has(k)).map(([k, v]) => `${k}=${v}`);
        const prefix = argEnv.length ? `|${argEnv.length} ${argEnv.join(' ')} ` : '';
        return {
          type: 'run',
          createdBy: `RUN ${prefix}${script ? [...this.shell, script.content].join(' ') : argv.join(' ')}`,
          argv,
          env: [...(cfg.Env ?? []), ...argEnv, ...proxies],
          user: cfg.User ?? '',
          workdir: cfg.WorkingDir || '/',
          network: ins.flags.network,
          script,
        };
      }
      case 'COPY':
      case 'ADD': {
        const heredocs = new Map<string, Buffer>();
        for (const h of ins.heredocs) heredocs.set(h.name, Buffer.from(h.expand ? this.expandHeredoc(ins, h.content) : h.content));
        let chmod: number | undefined;
        if (ins.chmod !== undefined) {
          const c = this.word(ins, ins.chmod);
          if (!/^[0-7]{3,4}$/.test(c)) this.fail(ins, `invalid --chmod=${c}: an octal mode like 0755 is needed`);
          chmod = parseInt(c, 8);
        }
        return {
          type: 'copy',
          ins,
          sources: ins.sources.map((s) => (s.startsWith('<<') && heredocs.has(s.slice(2)) ? s : this.word(ins, s))),
          dest: this.word(ins, ins.dest),
          from: ins.from === undefined ? undefined : this.word(ins, ins.from),
          chown: ins.chown === undefined ? undefined : this.word(ins, ins.chown),
          chmod,
          heredocs,
          exclude: ins.exclude.map((e) => this.word(ins, e)),
          checksum: ins.checksum === undefined ? undefined : this.word(ins, ins.checksum),
          workdir: cfg.WorkingDir || '/',
        };
      }
    }
  }

  /** heredoc text: variables expanded, quotes and backslashes left as they are */
  private expandHeredoc(ins: Instruction, text: string): string {
    return text.replace(/\\\$|\$\{[^}]*\}|\$[A-Za-z0-9_]+/g, (m) => (m === '\\$' ? '$' : this.word(ins, m)));
  }

  private portKeys(ins: Instruction, p: string): string[] {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
    if (!m) this.fail(ins, `invalid containerPort: ${p}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 65535) this.fail(ins, `invalid port range: ${p}`);
    const proto = (m[3] ?? 'tcp').toLowerCase();
    const out: string[] = [];
    for (let i = lo; i <= hi; i++) out.push(`${i}/${proto}`);
    return out;
  }
}
