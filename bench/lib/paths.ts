// Where the compiled programs the bench starts live.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/ of this checkout (bench/ compiles to dist/bench/). */
export const distDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const passthroughJs = path.join(distDir, 'test/fixtures/passthrough.js');
export const fuseNativePassthroughJs = path.join(distDir, 'bench/binding/fuse-native-passthrough.js');
/** strata's CLI: $STRATA_BIN (another build, e.g. a worktree's) or this checkout's. */
export const strataBin = process.env.STRATA_BIN ?? path.join(distDir, 'src/cli/strata.cjs');
