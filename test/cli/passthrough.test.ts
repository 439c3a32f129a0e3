import test from 'ava';
import { splitPassthrough } from '../../src/cli/passthrough.js';

test('run: everything after the image is the command, options included', (t) => {
  t.deepEqual(splitPassthrough(['run', '--rm', '-e', 'A=1', 'busybox', 'ls', '-l', '-e']), ['run', '--rm', '-e', 'A=1', 'busybox', '--', 'ls', '-l', '-e']);
  t.deepEqual(splitPassthrough(['--root', '/r', 'run', '-it', '--name=x', 'img']), ['--root', '/r', 'run', '-it', '--name=x', 'img', '--']);
  t.deepEqual(splitPassthrough(['run', '-v', '/a:/b', 'img', 'sh', '-c', 'x']), ['run', '-v', '/a:/b', 'img', '--', 'sh', '-c', 'x']);
});

test('exec: after the container; an explicit -- and other commands are left alone', (t) => {
  t.deepEqual(splitPassthrough(['exec', '-i', '-w', '/x', 'c1', 'sh', '-e']), ['exec', '-i', '-w', '/x', 'c1', '--', 'sh', '-e']);
  t.deepEqual(splitPassthrough(['exec', 'c1', '--', 'ls']), ['exec', 'c1', '--', 'ls']);
  t.deepEqual(splitPassthrough(['ps', '-a']), ['ps', '-a']);
  t.deepEqual(splitPassthrough(['run', '--help']), ['run', '--help']);
});
