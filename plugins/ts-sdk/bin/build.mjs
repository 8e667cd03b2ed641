#!/usr/bin/env node
// wasm-mcp-build APP.ts [-o APP.wasm]: a TypeScript (or JavaScript) module
// whose tool() calls register tools, built into a wasm-mcp component.
//
// The app never names the WIT or writes the exports: this step bundles the
// app with its npm dependencies (esbuild), adds the SDK's exports, and runs
// componentize-js with the WIT shipped inside the SDK.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const usage = 'usage: wasm-mcp-build APP.ts [-o APP.wasm]';
const args = process.argv.slice(2);
let app;
let output;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '-o' || args[i] === '--output') output = args[++i];
  else if (args[i] === '-h' || args[i] === '--help') {
    console.log(usage);
    process.exit(0);
  } else if (!app) app = args[i];
  else fail(`unexpected argument ${args[i]}\n${usage}`);
}
if (!app) fail(usage);
app = resolve(app);
if (!['.ts', '.mts', '.js', '.mjs'].includes(extname(app))) fail(`${app} is not a .ts or .js module: pass the one with your tool() calls`);
try {
  await stat(app);
} catch {
  fail(`${app} does not exist`);
}
output = resolve(output ?? join(dirname(app), basename(app, extname(app)) + '.wasm'));

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { build } = await import('esbuild');
const { componentize } = await import('@bytecodealliance/componentize-js');

const scratch = await mkdtemp(join(tmpdir(), 'wasm-mcp-build-'));
try {
  const bundle = join(scratch, 'component.js');
  const entry = [
    `import ${JSON.stringify(app)};`,
    `export { tools, prompts, resources, completions } from ${JSON.stringify(join(sdk, 'src', 'exports.ts'))};`,
  ].join('\n');
  try {
    await build({
      stdin: { contents: entry, resolveDir: dirname(app), sourcefile: 'wasm-mcp-entry.js', loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2022',
      external: ['wasm-mcp:*'],
      outfile: bundle,
      logLevel: 'error',
    });
  } catch {
    fail(`could not bundle ${app} (esbuild's message is above)`);
  }
  let component;
  try {
    ({ component } = await componentize({
      sourcePath: bundle,
      witPath: join(sdk, 'wit'),
      worldName: 'plugin',
      // No incoming-HTTP export; fetch() stays, and reaches what [plugin.http] grants.
      disableFeatures: ['fetch-event'],
    }));
  } catch (error) {
    fail(`componentize-js could not build ${app}: ${error.message ?? error}`);
  }
  await writeFile(output, component);
  console.log(`built ${output} (${(component.length / 1e6).toFixed(1)} MB)`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}
