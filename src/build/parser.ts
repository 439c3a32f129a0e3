// Dockerfile text -> instructions as written: parser directives, comments, line
// continuations (comment and empty lines inside them skipped, as BuildKit does), and
// heredocs for the instructions that take them. What each instruction's arguments mean
// is instructions.ts' concern.
import { DockerfileError } from './errors.js';
import { splitWords, expandWord } from './words.js';

export interface Heredoc {
  /** the delimiter, unquoted: also the file name COPY gives it */
  name: string;
  content: string;
  /** an unquoted delimiter: variables in the content are expanded */
  expand: boolean;
  /** `<<-`: leading tabs were stripped from each line */
  chomp: boolean;
}

export interface RawInstruction {
  /** upper case, as Docker matches it */
  keyword: string;
  /** the arguments, continuation lines joined */
  rest: string;
  /** 1-based line of the keyword, and of the last line it took (heredocs included) */
  line: number;
  endLine: number;
  heredocs: Heredoc[];
}

export interface ParsedDockerfile {
  file: string;
  escape: string;
  directives: Record<string, string>;
  instructions: RawInstruction[];
}

export const KEYWORDS = new Set([
  'FROM', 'RUN', 'CMD', 'ENTRYPOINT', 'COPY', 'ADD', 'ENV', 'ARG', 'WORKDIR', 'USER', 'LABEL',
  'EXPOSE', 'VOLUME', 'SHELL', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER',
]);
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);
const DIRECTIVE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['escape', 'syntax', 'check']);
const HEREDOC_WORD = /^<<(-?)(.+)$/;

const isComment = (line: string): boolean => /^[ \t]*#/.test(line);
const isBlank = (line: string): boolean => /^[ \t]*$/.test(line);

/** The directives at the top of the file: they stop at the first line that is not one. */
function readDirectives(lines: string[], file: string): { directives: Record<string, string>; next: number } {
  const directives: Record<string, string> = {};
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) break; // an unknown directive is a comment, and ends them
    if (key in directives) throw new DockerfileError(file, i + 1, `only one ${key} parser directive can be used`, lines[i]);
    directives[key] = m[2]!;
  }
  const escape = directives.escape ?? '\\';
  if (escape !== '\\' && escape !== '`') {
    throw new DockerfileError(file, 1, 'invalid escape token (must be ` or \\)', escape);
  }
  return { directives, next: i };
}

/** The heredocs a logical line opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in order. */
function heredocMarkers(rest: string, escape: string): Omit<Heredoc, 'content'>[] {
  const out: Omit<Heredoc, 'content'>[] = [];
  for (const w of splitWords(rest, escape)) {
    const m = HEREDOC_WORD.exec(w);
    if (!m) continue;
    const raw = m[2]!;
    const name = expandWord(raw, () => undefined, escape);
    if (!name || name.includes('<')) continue;
    out.push({ name, expand: name === raw, chomp: m[1] === '-' });
  }
  return out;
}

export function parseDockerfile(text: string, file = 'Dockerfile'): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const { directives, next } = readDirectives(lines, file);
  const escape = directives.escape ?? '\\';
  const continuation = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const instructions: RawInstruction[] = [];

  let i = next;
  while (i < lines.length) {
    const first = lines[i]!;
    if (isComment(first) || isBlank(first)) {
      i++;
      continue;
    }
    const line = i + 1;
    let logical = first.replace(/^[ \t]+/, '');
    let open = continuation.test(logical);
    if (open) logical = logical.replace(continuation, '');
    i++;
    while (open && i < lines.length) {
      const l = lines[i++]!;
      if (isComment(l) || isBlank(l)) continue;
      open = continuation.test(l);
      logical += open ? l.replace(continuation, '') : l;
    }
    const m = /^(\S+)[ \t]*(.*)$/s.exec(logical)!;
    const keyword = m[1]!.toUpperCase();
    const rest = m[2]!.replace(/[ \t]+$/, '');
    if (!KEYWORDS.has(keyword)) throw new DockerfileError(file, line, `unknown instruction: ${m[1]}`, logical.trim());

    const heredocs: Heredoc[] = [];
    if (HEREDOC_KEYWORDS.has(keyword)) {
      for (const marker of heredocMarkers(rest, escape)) {
        let content = '';
        let closed = false;
        while (i < lines.length) {
          let l = lines[i++]!;
          if (marker.chomp) l = l.replace(/^\t+/, '');
          if (l === marker.name) {
            closed = true;
            break;
          }
          content += l + '\n';
        }
        if (!closed) throw new DockerfileError(file, line, `unterminated heredoc ${marker.name}`, logical.trim());
        heredocs.push({ ...marker, content });
      }
    }
    instructions.push({ keyword, rest, line, endLine: i, heredocs });
  }
  return { file, escape, directives, instructions };
}
