// Variable expansion and word splitting as Docker's Dockerfile frontend does them.
import test from 'ava';
import { expandWord, expandWords, splitWords, ExpansionError } from '../../src/build/words.js';

const env: Record<string, string> = { A: 'a', EMPTY: '', SP: 'x y', PATH: '/bin' };
const look = (n: string): string | undefined => env[n];

test('$VAR and ${VAR} expand; an unset variable is empty; a lone $ stays', (t) => {
  t.is(expandWord('$A-${A}-$NOPE-${NOPE}-$', look), 'a-a---$');
  t.is(expandWord('$PATH:/usr/bin', look), '/bin:/usr/bin');
  t.is(expandWord('${A}b$Ab', look), 'ab');
});

test('default and alternative modifiers, with and without the colon', (t) => {
  t.is(expandWord('${NOPE:-d}|${EMPTY:-d}|${A:-d}', look), 'd|d|a');
  t.is(expandWord('${NOPE-d}|${EMPTY-d}|${A-d}', look), 'd||a');
  t.is(expandWord('${NOPE:+alt}|${EMPTY:+alt}|${A:+alt}', look), '||alt');
  t.is(expandWord('${NOPE+alt}|${EMPTY+alt}', look), '|alt');
  t.is(expandWord('${NOPE:-$A/${SP}}', look), 'a/x y');
  t.is(expandWord('${A:?must be set}', look), 'a');
  t.throws(() => expandWord('${NOPE:?must be set}', look), { instanceOf: ExpansionError, message: 'NOPE: must be set' });
  t.throws(() => expandWord('${A:#b}', look), { instanceOf: ExpansionError, message: /unsupported modifier/ });
});

test('quotes: single quotes are literal, double quotes expand, the escape protects', (t) => {
  t.is(expandWord(`'$A' "$A" \\$A`, look), '$A a $A');
  t.is(expandWord('"a\\"b\\$c\\\\d\\e"', look), 'a"b$c\\d\\e');
  t.is(expandWord('x\\ y', look), 'x y');
  t.is(expandWord('`$A', look, '`'), '$A');
  t.throws(() => expandWord('"open', look), { instanceOf: ExpansionError });
  t.throws(() => expandWord("'open", look), { instanceOf: ExpansionError });
});

test('splitWords keeps quotes for later; expandWords splits unquoted values too', (t) => {
  t.deepEqual(splitWords(`a "b c"  d\\ e 'f g'`), ['a', '"b c"', 'd\\ e', "'f g'"]);
  t.deepEqual(splitWords('k="v 1" k2=v2'), ['k="v 1"', 'k2=v2']);
  t.deepEqual(expandWords('80 $SP "$SP" ""', look), ['80', 'x', 'y', 'x y', '']);
});

test('pattern modifiers: # ## % %% / //, with shell patterns', (t) => {
  const e: Record<string, string> = { F: 'dir/sub/file.tar.gz', P: 'a-b-c' };
  const l = (n: string): string | undefined => e[n];
  t.is(expandWord('${F#*/}', l), 'sub/file.tar.gz');
  t.is(expandWord('${F##*/}', l), 'file.tar.gz');
  t.is(expandWord('${F%.*}', l), 'dir/sub/file.tar');
  t.is(expandWord('${F%%.*}', l), 'dir/sub/file');
  t.is(expandWord('${P/-/+}', l), 'a+b-c');
  t.is(expandWord('${P//-/+}', l), 'a+b+c');
  t.is(expandWord('${P//-}', l), 'abc');
  t.is(expandWord('${P#x}|${NOPE%%a}', l), 'a-b-c|');
  t.is(expandWord('${F##*[/]}', l), 'file.tar.gz');
});
