// Docker's shell-like word handling for Dockerfiles: splitting an instruction's arguments
// into words (quotes kept, for later expansion) and expanding variables in a word the way
// the Dockerfile frontend does ($VAR, ${VAR}, ${VAR:-w}, ${VAR-w}, ${VAR:+w}, ${VAR+w},
// ${VAR:?msg}, quotes and the escape character). Not a shell: no globbing, no commands.

/** The value of a variable, or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isNameChar = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

/** Splits on unquoted whitespace, keeping quotes and escapes in the words (Docker's
 * parseWords): `a "b c" d\ e` gives [a, "b c", d\ e]. */
export function splitWords(text: string, escape = '\\'): string[] {
  const words: string[] = [];
  let word = '';
  let quote = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (!quote && isSpace(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === escape && i + 1 < text.length && quote !== "'") {
      word += c + text[++i]!;
      continue;
    }
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    }
    word += c;
  }
  if (inWord) words.push(word);
  return words;
}

/** Thrown by ${VAR:?message}; the caller adds the Dockerfile line. */
export class ExpansionError extends Error {}

class Expander {
  private i = 0;
  /** the words made so far, when splitting (ProcessWords); one word otherwise */
  private words: string[] = [];
  private cur = '';
  private curStarted = false;

  constructor(
    private readonly s: string,
    private readonly lookup: Lookup,
    private readonly escape: string,
    private readonly split: boolean,
  ) {}

  run(): string[] {
    const w = this.until('');
    if (!this.split) return [w];
    this.endWord();
    return this.words;
  }

  private endWord(): void {
    if (this.curStarted) this.words.push(this.cur);
    this.cur = '';
    this.curStarted = false;
  }

  /** adds text that word splitting may cut (unquoted text, unquoted expansions) */
  private addSplittable(text: string): void {
    for (const c of text) {
      if (isSpace(c)) this.endWord();
      else {
        this.cur += c;
        this.curStarted = true;
      }
    }
  }

  private addRaw(text: string): void {
    this.cur += text;
    this.curStarted = true;
  }

  /** Reads up to the stop character (not consumed here) or the end. When splitting at
   * top level, words are collected into this.words and the return value is unused. */
  private until(stop: string): string {
    const topSplit = this.split && stop === '';
    let out = '';
    const emit = (text: string, quoted: boolean): void => {
      if (!topSplit) out += text;
      else if (quoted) this.addRaw(text);
      else this.addSplittable(text);
    };
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (stop.includes(c)) return out;
      if (c === "'") {
        emit(this.singleQuoted(), true);
      } else if (c === '"') {
        emit(this.doubleQuoted(), true);
      } else if (c === '$') {
        emit(this.dollar(), false);
      } else if (c === this.escape) {
        this.i++;
        if (this.i >= this.s.length) emit(c, true);
        else emit(this.s[this.i++]!, true);
      } else {
        this.i++;
        emit(c, false);
      }
    }
    if (stop) throw new ExpansionError(`missing '${stop[stop.length - 1]}'`);
    return out;
  }

  private singleQuoted(): string {
    const end = this.s.indexOf("'", this.i + 1);
    if (end < 0) throw new ExpansionError('unexpected end of statement while looking for matching single-quote');
    const text = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    return text;
  }

  private doubleQuoted(): string {
    this.i++;
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '$') {
        out += this.dollar();
      } else if (c === this.escape) {
        const n = this.s[this.i + 1];
        if (n === undefined) break;
        // inside double quotes the escape only protects what would otherwise be special
        out += n === '"' || n === '$' || n === this.escape ? n : c + n;
        this.i += 2;
      } else {
        out += c;
        this.i++;
      }
    }
    throw new ExpansionError('unexpected end of statement while looking for matching double-quote');
  }

  private dollar(): string {
    this.i++; // '$'
    const c = this.s[this.i];
    if (c === '{') {
      this.i++;
      let name = '';
      while (this.i < this.s.length && isNameChar(this.s[this.i]!)) name += this.s[this.i++]!;
      if (!name) throw new ExpansionError('bad substitution: empty or invalid variable name');
      let op = this.s[this.i];
      if (op === '}') {
        this.i++;
        return this.lookup(name) ?? '';
      }
      let colon = false;
      if (op === ':') {
        colon = true;
        this.i++;
        op = this.s[this.i];
      }
      if (!colon && (op === '#' || op === '%' || op === '/')) return this.patternOp(name, op);
      if (op !== '-' && op !== '+' && op !== '?') {
        throw new ExpansionError(`unsupported modifier (${colon ? ':' : ''}${op ?? 'end'}) in substitution of ${name}`);
      }
      this.i++;
      const word = this.until('}');
      this.i++; // '}'
      const value = this.lookup(name);
      const set = value !== undefined && (!colon || value !== '');
      if (op === '-') return set ? value! : word;
      if (op === '+') return set ? word : '';
      if (!set) throw new ExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
      return value!;
    }
    if (c !== undefined && isNameChar(c)) {
      let name = '';
      while (this.i < this.s.length && isNameChar(this.s[this.i]!)) name += this.s[this.i++]!;
      return this.lookup(name) ?? '';
    }
    return '$';
  }

  /** ${VAR#pat} ${VAR##pat} ${VAR%pat} ${VAR%%pat} ${VAR/pat/repl} ${VAR//pat/repl}:
   * shell patterns, where * and ? match any character */
  private patternOp(name: string, op: string): string {
    this.i++; // the operator
    const twice = this.s[this.i] === op;
    if (twice) this.i++;
    const pattern = this.until(op === '/' ? '/}' : '}');
    let repl = '';
    if (op === '/' && this.s[this.i] === '/') {
      this.i++;
      repl = this.until('}');
    }
    this.i++; // '}'
    const value = this.lookup(name) ?? '';
    const re = new RegExp(`^(?:${shellPatternToRegex(pattern)})$`, 's');
    const n = value.length;
    if (op === '#') {
      for (let k = twice ? n : 0; twice ? k >= 0 : k <= n; k += twice ? -1 : 1) if (re.test(value.slice(0, k))) return value.slice(k);
      return value;
    }
    if (op === '%') {
      for (let k = twice ? 0 : n; twice ? k <= n : k >= 0; k += twice ? 1 : -1) if (re.test(value.slice(k))) return value.slice(0, k);
      return value;
    }
    // '/': the longest match at the leftmost place, once or (//) everywhere
    let out = '';
    let i = 0;
    let replaced = false;
    while (i <= n) {
      let end = -1;
      if (twice || !replaced) {
        for (let k = n; k > i && end < 0; k--) if (re.test(value.slice(i, k))) end = k;
      }
      if (end < 0) {
        if (i < n) out += value[i];
        i++;
        continue;
      }
      out += repl;
      replaced = true;
      i = end;
    }
    return out;
  }
}

function shellPatternToRegex(p: string): string {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = p.slice(i + 1, end);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return re;
}

/** Expands variables and removes quotes in one word (Docker's ProcessWord). */
export function expandWord(word: string, lookup: Lookup, escape = '\\'): string {
  return new Expander(word, lookup, escape, false).run()[0]!;
}

/** Expands, then splits on unquoted whitespace, also inside unquoted variable values
 * (Docker's ProcessWords): EXPOSE $PORTS gives one port per word. */
export function expandWords(text: string, lookup: Lookup, escape = '\\'): string[] {
  return new Expander(text, lookup, escape, true).run();
}
