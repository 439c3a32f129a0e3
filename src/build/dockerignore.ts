// .dockerignore: which context paths COPY and ADD never see. Docker's rules: one pattern
// per line, `#` comments, `!` re-includes, patterns cleaned (leading `/` and `./` gone),
// Go filepath.Match syntax plus `**`; a pattern that matches a directory matches all in
// it; the last matching pattern decides.
import fs from 'node:fs';
import path from 'node:path';
import { globToRegex } from './glob.js';
import { BuildError } from './errors.js';

interface Pattern {
  text: string;
  exclusion: boolean;
  re: RegExp;
}

/** path.posix.normalize plus Go's Clean: no trailing slash, '' becomes '.' */
function clean(p: string): string {
  let c = path.posix.normalize(p);
  if (c.length > 1 && c.endsWith('/')) c = c.slice(0, -1);
  return c;
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[];

  constructor(lines: string[]) {
    this.patterns = [];
    for (const raw of lines) {
      let line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      let exclusion = false;
      if (line.startsWith('!')) {
        exclusion = true;
        line = line.slice(1).trim();
      }
      let p = clean(line);
      p = p.replace(/^\/+/, '');
      if (p.startsWith('./')) p = clean(p.slice(2));
      if (!p || p === '.') continue;
      let re: RegExp;
      try {
        re = new RegExp(`^${globToRegex(p, true)}$`, 's');
      } catch {
        throw new BuildError(`.dockerignore: bad pattern: ${raw.trim()}`);
      }
      this.patterns.push({ text: p, exclusion, re });
    }
  }

  /** CONTEXT/.dockerignore, or DOCKERFILE.dockerignore beside the Dockerfile, which wins
   * (Docker's rule, so one context can serve several Dockerfiles) */
  static forBuild(contextDir: string, dockerfile?: string): IgnoreMatcher {
    for (const file of [dockerfile && `${dockerfile}.dockerignore`, path.join(contextDir, '.dockerignore')]) {
      if (!file) continue;
      try {
        return new IgnoreMatcher(fs.readFileSync(file, 'utf8').split('\n'));
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOENT') throw e;
      }
    }
    return new IgnoreMatcher([]);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Some `!` pattern exists: an ignored directory may still hold included files. */
  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** rel: a context-relative path with `/` separators ('a/b.txt'). */
  ignores(rel: string): boolean {
    const file = clean(rel);
    const parts = file.split('/');
    let ignored = false;
    for (const p of this.patterns) {
      let m = p.re.test(file);
      for (let i = 1; !m && i < parts.length; i++) m = p.re.test(parts.slice(0, i).join('/'));
      if (m) ignored = !p.exclusion;
    }
    return ignored;
  }
}
