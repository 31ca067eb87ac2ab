// `npm run build`: the wasm module and its JS glue for Node and for browsers.
//
//   1. wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate in
//      Cargo.lock (`cargo install --locked`; installed only when missing or another
//      version). Nothing here downloads prebuilt binaries.
//   2. cargo build for wasm32-unknown-unknown in the `js-release` profile: the
//      workspace release profile, but opt-level 3 (decide speed over size: 3.2 MB,
//      1.0 MB gzipped) and not stripped, so wasm-bindgen sees the target features.
//   3. wasm-opt -O3 when binaryen is installed (optional; tried with apt-get once).
//   4. wasm-bindgen --target nodejs → pkg/node, --target web → pkg/web. The Node glue
//      loads the one wasm file in pkg/web, so the package carries it once.
//
//   node scripts/build.mjs [--if-needed]   (--if-needed: skip when pkg/ is newer
//                                           than every input)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const root = join(pkgDir, '..');
const out = join(pkgDir, 'pkg');
const stampFile = join(out, '.build-stamp');
const TARGET = 'wasm32-unknown-unknown';
const PROFILE = 'js-release';
const profileConfig = [
  `profile.${PROFILE}.inherits="release"`,
  `profile.${PROFILE}.opt-level=3`,
  `profile.${PROFILE}.strip=false`,
].flatMap((c) => ['--config', c]);

const log = (msg) => console.error(`[jitgate build] ${msg}`);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function upToDate() {
  if (!existsSync(stampFile)) return false;
  const inputs = [
    join(root, 'Cargo.toml'),
    join(root, 'Cargo.lock'),
    join(root, 'policy-core', 'Cargo.toml'),
    join(root, 'policy-core', 'src'),
    join(pkgDir, 'Cargo.toml'),
    join(pkgDir, 'src'),
    join(pkgDir, 'scripts', 'build.mjs'),
  ];
  const built = statSync(stampFile).mtimeMs;
  return inputs.every((p) => !existsSync(p) || newestMtime(p) < built);
}

/** The version of the `wasm-bindgen` crate that Cargo.lock pins. */
function lockedWasmBindgenVersion() {
  const lock = readFileSync(join(root, 'Cargo.lock'), 'utf8');
  const m = lock.match(/\[\[package\]\]\nname = "wasm-bindgen"\nversion = "([^"]+)"/);
  if (!m) throw new Error('Cargo.lock has no wasm-bindgen package: run `cargo generate-lockfile`');
  return m[1];
}

function ensureWasmBindgen(version) {
  const current = spawnSync('wasm-bindgen', ['--version'], { encoding: 'utf8' });
  if (current.status === 0 && current.stdout.trim() === `wasm-bindgen ${version}`) return;
  log(`installing wasm-bindgen-cli ${version} (found: ${current.status === 0 ? current.stdout.trim() : 'none'})`);
  const locked = spawnSync('cargo', ['install', '--locked', 'wasm-bindgen-cli', '--version', version], {
    stdio: 'inherit',
  });
  if (locked.status !== 0) {
    // The crate's own lock file can name a dependency version that the registry
    // mirror does not serve; fall back to resolving against the registry.
    log('`cargo install --locked` failed; retrying without --locked');
    run('cargo', ['install', 'wasm-bindgen-cli', '--version', version]);
  }
}

function ensureTarget() {
  if (!has('rustup')) return; // a toolchain without rustup must already have the target
  const installed = execFileSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' });
  if (!installed.split('\n').includes(TARGET)) run('rustup', ['target', 'add', TARGET]);
}

/** wasm-opt from Debian's binaryen, if it is or can be installed; else null. */
function wasmOpt() {
  if (process.env.JITGATE_NO_WASM_OPT) return null;
  if (has('wasm-opt')) return 'wasm-opt';
  if (process.getuid?.() === 0 && has('apt-get', ['--version'])) {
    log('wasm-opt missing: trying `apt-get install -y binaryen` (optional)');
    const install = () => spawnSync('apt-get', ['install', '-y', '-qq', 'binaryen'], { stdio: 'ignore' }).status === 0;
    if (!install()) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      install();
    }
    if (has('wasm-opt')) return 'wasm-opt';
  }
  log('wasm-opt not available: shipping the wasm as cargo built it (still correct, a little slower)');
  return null;
}

function main() {
  if (process.argv.includes('--if-needed') && upToDate()) {
    log('pkg/ is up to date');
    return;
  }
  const version = lockedWasmBindgenVersion();
  ensureTarget();
  ensureWasmBindgen(version);

  run('cargo', ['build', '--locked', '--target', TARGET, '--profile', PROFILE, '-p', 'jitgate-js', ...profileConfig]);
  let wasm = join(root, 'target', TARGET, PROFILE, 'jitgate_js.wasm');

  const opt = wasmOpt();
  if (opt) {
    // Before wasm-bindgen: binaryen 108 (Debian 12) rewrites the externref table
    // that wasm-bindgen adds, so it must not see the final module.
    const optimized = join(root, 'target', TARGET, PROFILE, 'jitgate_js.opt.wasm');
    const features = ['bulk-memory', 'sign-ext', 'nontrapping-float-to-int', 'mutable-globals', 'multivalue', 'reference-types'];
    const r = spawnSync(opt, ['-O3', ...features.map((f) => `--enable-${f}`), wasm, '-o', optimized], { stdio: 'inherit' });
    if (r.status === 0) wasm = optimized;
    else log('wasm-opt failed: using the unoptimised module');
  }

  rmSync(out, { recursive: true, force: true });
  const bindgen = (target, dir) =>
    run('wasm-bindgen', [
      '--target', target, '--out-dir', join(out, dir), '--out-name', 'jitgate_js',
      '--remove-name-section', '--remove-producers-section', wasm,
    ]);
  bindgen('nodejs', 'node');
  bindgen('web', 'web');

  // One wasm file for both builds: the Node glue reads the web build's copy.
  const nodeGlue = join(out, 'node', 'jitgate_js.js');
  const glue = readFileSync(nodeGlue, 'utf8');
  const from = '`${__dirname}/jitgate_js_bg.wasm`';
  if (!glue.includes(from)) throw new Error(`wasm-bindgen ${version}: Node glue does not load ${from}; update build.mjs`);
  writeFileSync(nodeGlue, glue.replace(from, "require('path').join(__dirname, '..', 'web', 'jitgate_js_bg.wasm')"));
  rmSync(join(out, 'node', 'jitgate_js_bg.wasm'));
  // The package is "type": "module"; the Node glue is CommonJS.
  writeFileSync(join(out, 'node', 'package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(join(out, 'web', 'package.json'), '{ "type": "module" }\n');

  const size = statSync(join(out, 'web', 'jitgate_js_bg.wasm')).size;
  writeFileSync(stampFile, JSON.stringify({ wasmBindgen: version, wasmOpt: Boolean(opt), bytes: size }) + '\n');
  log(`built pkg/node and pkg/web (${(size / 1048576).toFixed(2)} MiB wasm${opt ? ', wasm-opt -O3' : ''})`);
}

mkdirSync(out, { recursive: true });
main();
