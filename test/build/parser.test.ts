// The Dockerfile parser: lines, continuations, comments, directives, heredocs, and the
// meaning of each instruction's arguments.
import test from 'ava';
import { parseDockerfile } from '../../src/build/parser.js';
import { readDockerfile, type Instruction } from '../../src/build/instructions.js';
import { DockerfileError } from '../../src/build/errors.js';

const read = (text: string) => readDockerfile(parseDockerfile(text));
const steps = (text: string): Instruction[] => read(text).stages.flatMap((s) => s.instructions);

test('comments, blank lines and continuations (with comment and empty lines inside)', (t) => {
  const p = parseDockerfile([
    '# a comment',
    '',
    'FROM  busybox',
    'RUN echo a \\',
    '  # inside: dropped',
    '',
    '    b \\   ',
    '    c',
    '   run echo lower',
  ].join('\n'));
  t.deepEqual(p.instructions.map((i) => [i.keyword, i.rest, i.line, i.endLine]), [
    ['FROM', 'busybox', 3, 3],
    ['RUN', 'echo a     b     c', 4, 8],
    ['RUN', 'echo lower', 9, 9],
  ]);
});

test('# escape=` changes the continuation and escape character; # syntax= is ignored', (t) => {
  const p = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN dir c:\\ `\n  d\n');
  t.is(p.escape, '`');
  t.is(p.directives.syntax, 'docker/dockerfile:1');
  t.is(p.instructions[1]!.rest, 'dir c:\\   d');
});

test('directives are read only at the top', (t) => {
  const p = parseDockerfile('FROM x\n# escape=`\nRUN a \\\n b\n');
  t.is(p.escape, '\\');
  t.is(p.instructions[1]!.rest, 'a  b');
  t.throws(() => parseDockerfile('# escape=x\nFROM a\n'), { instanceOf: DockerfileError, message: /invalid escape token/ });
});

test('an unknown instruction names the file, the line and the text', (t) => {
  const e = t.throws(() => parseDockerfile('FROM x\n\nFRUM y z\n', 'Dfile'), { instanceOf: DockerfileError });
  t.is(e.message, 'Dfile:3: unknown instruction: FRUM: FRUM y z');
  t.is(e.line, 3);
});

test('syntax errors give file:line and the offending text', (t) => {
  t.throws(() => read('FROM x\nENV A=1 B\n'), { message: 'Dockerfile:2: syntax error - can\'t find = in "B". Must be of the form: name=value: ENV A=1 B' });
  t.throws(() => read('FROM x\nENV A\n'), { message: 'Dockerfile:2: ENV must have two arguments: ENV A' });
  t.throws(() => read('FROM x\nCOPY --frm=a b c\n'), { message: /^Dockerfile:2: unknown flag: --frm: COPY --frm=a b c$/ });
  t.throws(() => read('FROM x\nCOPY onlyone\n'), { message: /^Dockerfile:2: COPY requires at least two arguments/ });
  t.throws(() => read('FROM x\nSHELL /bin/sh -c\n'), { message: /^Dockerfile:2: SHELL requires the arguments to be in JSON form/ });
  t.throws(() => read('FROM x\nHEALTHCHECK RUN x\n'), { message: /unknown type "RUN" in HEALTHCHECK/ });
  t.throws(() => read('FROM x\nONBUILD ONBUILD RUN x\n'), { message: /ONBUILD ONBUILD/ });
  t.throws(() => read('FROM a b\n'), { message: /^Dockerfile:1: FROM requires either one or three arguments/ });
  t.throws(() => read('RUN x\n'), { message: /^Dockerfile:1: no build stage/ });
  t.throws(() => read('FROM a AS x\nFROM b AS X\n'), { message: /duplicate stage name "x"/ });
  t.throws(() => read('FROM x\nRUN <<EOF\necho\n'), { message: /^Dockerfile:2: unterminated heredoc EOF/ });
  t.throws(() => read('FROM x\nWORKDIR\n'), { message: /WORKDIR requires exactly one argument/ });
});

test('FROM with --platform and AS; global ARGs before it', (t) => {
  const d = read('ARG V=1\nFROM --platform=linux/amd64 base:$V AS Build\nFROM build\n');
  t.deepEqual(d.globalArgs.map((a) => a.args), [[{ name: 'V', default: '1' }]]);
  t.like(d.stages[0]!.from, { image: 'base:$V', name: 'build', platform: 'linux/amd64' });
  t.is(d.stages[1]!.from.image, 'build');
});

test('RUN, CMD, ENTRYPOINT: exec (JSON) and shell forms; text that is not JSON is shell form', (t) => {
  const s = steps('FROM x\nRUN ["echo", "a b"]\nRUN echo "a b"\nCMD [ "sh" ]\nENTRYPOINT [not json]\nRUN --network=none true\n');
  t.like(s[0], { kind: 'RUN', cmd: { exec: ['echo', 'a b'] } });
  t.like(s[1], { kind: 'RUN', cmd: { shell: 'echo "a b"' } });
  t.like(s[2], { kind: 'CMD', cmd: { exec: ['sh'] } });
  t.like(s[3], { kind: 'ENTRYPOINT', cmd: { shell: '[not json]' } });
  t.like(s[4], { kind: 'RUN', cmd: { shell: 'true' }, flags: { network: 'none' } });
});

test('heredocs: several, <<- strips tabs, quoted delimiters turn off expansion', (t) => {
  const p = parseDockerfile([
    'FROM x',
    'RUN <<EOF',
    'echo $HOME',
    'EOF',
    'RUN cat <<-"A" >/a && cat <<B >/b',
    '\t\tone $X',
    '\tA',
    'two',
    'B',
    'COPY <<conf.txt <<\'raw\' /etc/',
    'c',
    'conf.txt',
    'r',
    'raw',
    'RUN echo after',
  ].join('\n'));
  const [, run1, run2, copy, after] = p.instructions;
  t.deepEqual(run1!.heredocs, [{ name: 'EOF', content: 'echo $HOME\n', expand: true, chomp: false }]);
  t.deepEqual(run2!.heredocs, [
    { name: 'A', content: 'one $X\n', expand: false, chomp: true },
    { name: 'B', content: 'two\n', expand: true, chomp: false },
  ]);
  t.deepEqual(copy!.heredocs.map((h) => [h.name, h.content, h.expand]), [['conf.txt', 'c\n', true], ['raw', 'r\n', false]]);
  t.is(after!.rest, 'echo after');
  t.is(after!.line, 15);
  const ins = readDockerfile(p).stages[0]!.instructions[2]!;
  t.like(ins, { kind: 'COPY', sources: ['<<conf.txt', '<<raw'], dest: '/etc/' });
});

test('a heredoc marker inside quotes is not one', (t) => {
  const p = parseDockerfile('FROM x\nRUN echo "<<EOF"\nRUN next\n');
  t.deepEqual(p.instructions[1]!.heredocs, []);
  t.is(p.instructions.length, 3);
});

test('COPY and ADD: flags, JSON form, quoted sources', (t) => {
  const s = steps('FROM x\nCOPY --from=build --chown=1:2 --chmod=0640 --link a "b c" /d/\nADD ["x y", "/z"]\nCOPY --link=false a b\n');
  t.like(s[0], { kind: 'COPY', sources: ['a', '"b c"'], dest: '/d/', from: 'build', chown: '1:2', chmod: '0640', link: true });
  t.like(s[1], { kind: 'ADD', sources: ['x y'], dest: '/z' });
  t.like(s[2], { kind: 'COPY', link: false });
  t.throws(() => steps('FROM x\nADD --from=a b c\n'), { message: 'Dockerfile:2: unknown flag: --from: ADD --from=a b c' });
});

test('ENV and LABEL in both forms; ARG with and without defaults', (t) => {
  const s = steps('FROM x\nENV A b c\nENV B=1 C="two words" D=\nLABEL "com.x"="y z" k=v\nARG X Y=2 Z=\n');
  t.like(s[0], { kind: 'ENV', pairs: [['A', 'b c']] });
  t.like(s[1], { kind: 'ENV', pairs: [['B', '1'], ['C', '"two words"'], ['D', '']] });
  t.like(s[2], { kind: 'LABEL', pairs: [['"com.x"', '"y z"'], ['k', 'v']] });
  t.like(s[3], { kind: 'ARG', args: [{ name: 'X' }, { name: 'Y', default: '2' }, { name: 'Z', default: '' }] });
});

test('the other instructions', (t) => {
  const s = steps([
    'FROM x',
    'WORKDIR /app', 'USER app:app', 'STOPSIGNAL SIGKILL', 'MAINTAINER Jo <jo@x>',
    'EXPOSE 80 53/udp', 'VOLUME ["/v 1", "/v2"]', 'VOLUME /a /b', 'SHELL ["/bin/bash", "-c"]',
    'HEALTHCHECK NONE', 'HEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 CMD curl -f x',
    'ONBUILD run echo hi',
  ].join('\n'));
  t.like(s[0], { kind: 'WORKDIR', value: '/app' });
  t.like(s[1], { kind: 'USER', value: 'app:app' });
  t.like(s[2], { kind: 'STOPSIGNAL', value: 'SIGKILL' });
  t.like(s[3], { kind: 'MAINTAINER', value: 'Jo <jo@x>' });
  t.like(s[4], { kind: 'EXPOSE', items: ['80', '53/udp'] });
  t.like(s[5], { kind: 'VOLUME', items: ['/v 1', '/v2'], json: true });
  t.like(s[6], { kind: 'VOLUME', items: ['/a', '/b'], json: false });
  t.like(s[7], { kind: 'SHELL', shell: ['/bin/bash', '-c'] });
  t.like(s[8], { kind: 'HEALTHCHECK', cmd: null });
  t.like(s[9], { kind: 'HEALTHCHECK', cmd: { shell: 'curl -f x' }, interval: 90e9, timeout: 500e6, retries: 3 });
  t.like(s[10], { kind: 'ONBUILD', trigger: 'RUN echo hi' });
});
