// jitgate for Node: loads the wasm module synchronously (wasm-bindgen `nodejs`
// target), so a Gate can be built right after import. `init()` exists for code that
// also runs in browsers, where the module loads asynchronously.
import { createRequire } from 'node:module';
import { setBackend } from './api.mjs';

const require = createRequire(import.meta.url);
setBackend(require('../pkg/node/jitgate_js.js'));

/** Resolves at once: the Node build is ready on import. */
export async function init() {}

/** No-op: the Node build is ready on import. */
export function initSync() {}

export { Gate, JitgateError, auditLine, wasmMemoryBytes, version } from './api.mjs';
