// .dockerignore matching as Docker's patternmatcher does it.
import test from 'ava';
import { IgnoreMatcher } from '../../src/build/dockerignore.js';
import { globMatch } from '../../src/build/glob.js';

test('Go filepath.Match: * and ? stay within a component, classes, escapes', (t) => {
  t.true(globMatch('*.txt', 'a.txt'));
  t.false(globMatch('*.txt', 'd/a.txt'));
  t.true(globMatch('a?c', 'abc'));
  t.false(globMatch('a?c', 'a/c'));
  t.true(globMatch('[a-c]x', 'bx'));
  t.false(globMatch('[^a-c]x', 'bx'));
  t.true(globMatch('\\*', '*'));
  t.false(globMatch('\\*', 'a'));
  t.true(globMatch('a.b', 'a.b'));
  t.false(globMatch('a.b', 'aXb'));
});

test('patterns are cleaned: leading / and ./, trailing /, comments and blanks skipped', (t) => {
  const m = new IgnoreMatcher(['# comment', '', '/secret', './build/', '  tmp  ']);
  t.true(m.ignores('secret'));
  t.true(m.ignores('build'));
  t.true(m.ignores('tmp'));
  t.false(m.ignores('src/secret'));
  t.false(m.ignores('# comment'));
});

test('a pattern matching a directory matches everything in it', (t) => {
  const m = new IgnoreMatcher(['node_modules', 'logs/*.d']);
  t.true(m.ignores('node_modules/x/y.js'));
  t.true(m.ignores('logs/a.d/f'));
  t.false(m.ignores('src/node_modules'));
});

test('** matches any number of directories, also none', (t) => {
  const m = new IgnoreMatcher(['**/*.log', 'a/**/z', 'cache/**']);
  t.true(m.ignores('x.log'));
  t.true(m.ignores('d/e/x.log'));
  t.true(m.ignores('a/z'));
  t.true(m.ignores('a/b/c/z'));
  t.true(m.ignores('cache/anything/deep'));
  t.false(m.ignores('x.txt'));
});

test('! re-includes, and the last matching pattern wins', (t) => {
  const m = new IgnoreMatcher(['*.md', '!README.md', 'docs', '!docs/keep.txt', 'README.md.bak']);
  t.true(m.ignores('CHANGES.md'));
  t.false(m.ignores('README.md'));
  t.true(m.ignores('docs/other.txt'));
  t.false(m.ignores('docs/keep.txt'));
  t.true(m.hasExceptions);
  const again = new IgnoreMatcher(['!a', 'a']);
  t.true(again.ignores('a'));
});
