// The lower layers every union contender mounts, built once per bench run: a big file,
// a 20,000-file tree, a 10,000-entry directory, a small C project, and a tarball of a
// real source tree (this machine's /usr/include) to unpack into the mount.
import fs from 'node:fs';
import path from 'node:path';
import { dataBlock, readWhole, writeWhole } from '../lib/client.js';
import { mustRun } from '../lib/proc.js';
import type { Workspace } from '../lib/workspace.js';

export interface UnionSizes {
  bigBytes: number;
  manyDirs: number;
  filesPerDir: number;
  wideEntries: number;
  creates: number;
  sourceFiles: number;
  /** the tree tarred for the untar workload */
  untarTree: string;
}

export const unionSizes = (quick: boolean): UnionSizes =>
  quick
    ? { bigBytes: 32 << 20, manyDirs: 20, filesPerDir: 100, wideEntries: 1000, creates: 500, sourceFiles: 2, untarTree: '/usr/include/linux' }
    : { bigBytes: 512 << 20, manyDirs: 100, filesPerDir: 200, wideEntries: 10_000, creates: 5000, sourceFiles: 40, untarTree: '/usr/include' };

export interface Layers {
  /** lowerdir= order: top first */
  lowers: string[];
  base: string;
  sizes: UnionSizes;
  /** paths of the many/ tree, relative to the mount */
  many: string[];
  tarball: string;
  tarFiles: number;
}

function writeCProject(dir: string, files: number): void {
  fs.mkdirSync(path.join(dir, 'include'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'src'));
  for (let h = 0; h < 8; h++) {
    fs.writeFileSync(path.join(dir, 'include', `h${h}.h`), `#pragma once\n#define K${h} ${h + 3}\nstatic inline int f${h}(int x) { return x * K${h} + ${h}; }\n`);
  }
  const includes = Array.from({ length: 8 }, (_, h) => `#include "h${h}.h"`).join('\n');
  for (let i = 0; i < files; i++) {
    const fns = Array.from(
      { length: 25 },
      (_, j) =>
        `int m${i}_${j}(int n) {\n  int acc = ${j};\n  for (int k = 0; k < n; k++) acc = (acc * 31 + f${j % 8}(k)) ^ (acc >> 3);\n  return acc;\n}\n`,
    ).join('\n');
    fs.writeFileSync(path.join(dir, 'src', `m${i}.c`), `#include <stdio.h>\n#include <string.h>\n${includes}\n\n${fns}`);
  }
  const calls = Array.from({ length: files }, (_, i) => `  sum += m${i}_0(argc);`).join('\n');
  const decls = Array.from({ length: files }, (_, i) => `int m${i}_0(int);`).join('\n');
  fs.writeFileSync(path.join(dir, 'src', 'main.c'), `#include <stdio.h>\n${decls}\nint main(int argc, char **argv) {\n  int sum = 0;\n${calls}\n  printf("%d\\n", sum);\n  return 0;\n}\n`);
  fs.writeFileSync(
    path.join(dir, 'Makefile'),
    [
      'CFLAGS := -O1 -Iinclude',
      'SRCS := $(wildcard src/*.c)',
      'OBJS := $(SRCS:src/%.c=obj/%.o)',
      'prog: $(OBJS)',
      '\t$(CC) -o $@ $^',
      'obj/%.o: src/%.c $(wildcard include/*.h) | obj',
      '\t$(CC) $(CFLAGS) -c -o $@ $<',
      'obj:',
      '\tmkdir -p obj',
      '',
    ].join('\n'),
  );
}

export async function buildLayers(ws: Workspace, sizes: UnionSizes): Promise<Layers> {
  const root = ws.fresh('layers');
  const base = path.join(root, 'base');
  const top = path.join(root, 'top');
  fs.mkdirSync(base);
  fs.mkdirSync(top);
  writeWhole(path.join(base, 'big.bin'), sizes.bigBytes);
  const many: string[] = [];
  const chunk = dataBlock();
  for (let d = 0; d < sizes.manyDirs; d++) {
    const dir = `many/d${String(d).padStart(3, '0')}`;
    fs.mkdirSync(path.join(base, dir), { recursive: true });
    for (let f = 0; f < sizes.filesPerDir; f++) {
      const rel = `${dir}/f${String(f).padStart(4, '0')}`;
      fs.writeFileSync(path.join(base, rel), chunk.subarray(f * 997, f * 997 + 200 + ((f * 389) % 3800)));
      many.push(rel);
    }
  }
  fs.mkdirSync(path.join(base, 'wide'));
  for (let i = 0; i < sizes.wideEntries; i++) fs.writeFileSync(path.join(base, 'wide', `entry-${i}`), '');
  writeCProject(path.join(base, 'proj'), sizes.sourceFiles);
  // the top layer overrides a little of everything, so lookups really cross layers
  fs.mkdirSync(path.join(top, 'many/d000'), { recursive: true });
  fs.writeFileSync(path.join(top, 'many/d000/f0000'), 'from the top layer\n');
  fs.mkdirSync(path.join(top, 'proj/include'), { recursive: true });
  fs.copyFileSync(path.join(base, 'proj/include/h0.h'), path.join(top, 'proj/include/h0.h'));
  fs.writeFileSync(path.join(top, 'README'), 'top layer\n');
  const tarball = path.join(root, 'source.tar');
  await mustRun('tar', ['-C', path.dirname(sizes.untarTree), '-cf', tarball, path.basename(sizes.untarTree)]);
  const listed = await mustRun('tar', ['-tf', tarball]);
  readWhole(path.join(base, 'big.bin'));
  return { lowers: [top, base], base, sizes, many, tarball, tarFiles: listed.stdout.split('\n').filter(Boolean).length };
}
