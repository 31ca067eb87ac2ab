// jitgate for browsers and bundlers (wasm-bindgen `web` target). The wasm module
// loads asynchronously: `await init()` once before building a Gate. By default it
// fetches `jitgate_js_bg.wasm` next to the generated glue (bundlers rewrite the
// `new URL(…, import.meta.url)` for you); pass a URL, a Response, bytes or a
// compiled `WebAssembly.Module` to load it from elsewhere.
import initWasm, * as raw from '../pkg/web/jitgate_js.js';
import { initSync as initWasmSync } from '../pkg/web/jitgate_js.js';
import { setBackend } from './api.mjs';

let ready = null;

/**
 * Loads the wasm module (once; later calls return the same promise).
 * @param {string | URL | Request | Response | BufferSource | WebAssembly.Module} [source]
 */
export function init(source) {
  if (ready === null) {
    const arg = source === undefined ? undefined : { module_or_path: source };
    ready = initWasm(arg).then(
      () => {
        setBackend(raw);
      },
      (e) => {
        ready = null;
        throw e;
      },
    );
  }
  return ready;
}

/**
 * Instantiates the wasm module synchronously from its bytes or a compiled module
 * (for workers and runtimes that forbid `fetch` at start-up).
 * @param {BufferSource | WebAssembly.Module} module
 */
export function initSync(module) {
  initWasmSync({ module });
  setBackend(raw);
  ready = Promise.resolve();
}

export { Gate, JitgateError, auditLine, wasmMemoryBytes, version } from './api.mjs';
