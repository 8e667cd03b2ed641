// Regenerate types/ (the WIT's TypeScript declarations) with jco, which
// componentize-js brings. jco 1.35's bundled WASI shim starts with no
// preopened folders, so its type generator could not read the WIT; open
// the root for it first.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const transpiler = fileURLToPath(import.meta.resolve('@bytecodealliance/jco-transpile'));
const shim = join(dirname(transpiler), '..', 'node_modules', '@bytecodealliance', 'preview2-shim', 'dist', 'nodejs', 'filesystem.js');
const filesystem = await import(pathToFileURL(shim));
filesystem._setPreopens({ '/': '/' });
const { generateGuestTypes, writeFiles } = await import('@bytecodealliance/jco-transpile');
const files = await generateGuestTypes(join(here, '..', 'wit'), { worldName: 'plugin', outDir: join(here, '..', 'types') + '/' });
await writeFiles(files);
