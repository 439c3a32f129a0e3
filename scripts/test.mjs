#!/usr/bin/env node
// Runs every test with ava and ends with one plain line: "tests: N passed, N failed, N skipped".
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const ava = spawn('npx', ['ava', '--tap', ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit'] });
let passed = 0, failed = 0, skipped = 0;
const rl = createInterface({ input: ava.stdout });
rl.on('line', (line) => {
  process.stdout.write(line + '\n');
  if (/^not ok /.test(line)) failed++;
  else if (/^ok .*# SKIP/i.test(line)) skipped++;
  else if (/^ok /.test(line)) passed++;
});
ava.on('close', (code) => {
  rl.close();
  process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
