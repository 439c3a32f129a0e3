// Go's filepath.Match patterns as regular expressions (what .dockerignore and COPY
// sources use): `*` and `?` never cross a `/`, `[a-z]` and `[^a-z]` are classes, `\`
// escapes; with `**`, any number of directories (Docker's extension).
const META = /[.+^${}()|[\]\\/]/;

function classToRegex(p: string, i: number): { re: string; next: number } {
  // p[i] === '['
  let j = i + 1;
  let re = '[';
  if (p[j] === '^' || p[j] === '!') {
    re += '^';
    j++;
  }
  let first = true;
  for (; j < p.length; j++) {
    const c = p[j]!;
    if (c === ']' && !first) return { re: re + ']', next: j + 1 };
    first = false;
    if (c === '\\' && j + 1 < p.length) {
      re += '\\' + p[++j];
    } else if (c === '-' ) {
      re += '-';
    } else {
      re += META.test(c) ? '\\' + c : c;
    }
  }
  throw new SyntaxError(`syntax error in pattern: ${p}`);
}

/** A regex source (without anchors) for a pattern; doubleStar turns `**` on. */
export function globToRegex(pattern: string, doubleStar: boolean): string {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (doubleStar && pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        // a trailing ** takes everything; an inner one any number of whole directories
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const cls = classToRegex(pattern, i);
      re += cls.re;
      i = cls.next - 1;
    } else if (c === '\\') {
      if (i + 1 >= pattern.length) throw new SyntaxError(`syntax error in pattern: ${pattern}`);
      const n = pattern[++i]!;
      re += META.test(n) || n === '*' || n === '?' ? '\\' + n : n;
    } else {
      re += META.test(c) ? '\\' + c : c;
    }
  }
  return re;
}

export function hasGlob(s: string): boolean {
  return /[*?[\\]/.test(s);
}

/** Go's filepath.Match: the whole name against the whole pattern. */
export function globMatch(pattern: string, name: string): boolean {
  return new RegExp(`^${globToRegex(pattern, false)}$`, 's').test(name);
}
