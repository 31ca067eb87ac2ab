// Runs the decide_bench example compiled for wasm32-wasip1 in V8 (the engine Envoy
// embeds), through Node's WASI, with Liftoff off as Envoy runs it.
//
//   cargo build --release -p jitgate-filter --example decide_bench --target wasm32-wasip1
//   node --no-liftoff --no-warnings filter/bench.mjs target/wasm32-wasip1/release/examples/decide_bench.wasm [ITERATIONS]
//
// Prints the example's JSON line ({"cached_decision_ns", "first_decision_ns", ...}).
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";

const [path, iterations = "5000"] = process.argv.slice(2);
if (!path) {
  console.error("usage: bench.mjs DECIDE_BENCH.wasm [ITERATIONS]");
  process.exit(2);
}
const wasi = new WASI({ version: "preview1", args: ["decide_bench", iterations] });
const module = await WebAssembly.compile(await readFile(path));
// The example links the filter crate, whose proxy-wasm functions import `env.proxy_*`;
// the bench never calls them.
const env = new Proxy({}, { get: (_, name) => () => { throw new Error(`${String(name)} called`); } });
const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), env });
// The example also carries the filter's `_initialize` (from the linked crate), which
// Node's WASI refuses next to `_start`: hand it only what a command needs.
const { memory, _start } = instance.exports;
wasi.start({ exports: { memory, _start } });
