// A minimal proxy-wasm host in Node, to time and profile the filter in V8 (Envoy's Wasm
// runtime) without Envoy: `make profile-v8` (e2e/profile_v8.py) runs it.
//
//   node [--cpu-prof] e2e/v8host.mjs CONFIG.json TOKENS.txt FILTER.wasm [FILTER2.wasm …]
//
// A module given as FILTER.wasm=OTHER.json is configured with OTHER.json instead (to
// compare configurations, e.g. `policy.evaluator`, on one module).
// TOKENS.txt holds one approval per line; requests cycle through them (one line: the
// cached path; more lines than the filter's verified-token cache holds, 1,024: every
// request verifies a signature).
// Each module gets its own instance, configured with CONFIG.json; then every module
// decides the same allowed request (the token in `x-jit-approval`) in 30 interleaved
// batches of 300. Prints per module the minimum and median µs per request over the
// batches (the minimum is the figure to compare: the machine is shared), its ratio to
// the first module, the host calls one request makes, and the module's linear memory
// once configured and after the requests. Only the host calls the filter
// makes on this path are implemented; the others answer "not found" or do nothing.
import fs from "node:fs";
import crypto from "node:crypto";

const [configPath, tokenPath, ...modules] = process.argv.slice(2);
if (!modules.length) {
  console.error("usage: node e2e/v8host.mjs CONFIG.json TOKEN.txt FILTER.wasm [FILTER2.wasm …]");
  process.exit(2);
}
const BATCH = 300;
const BATCHES = 30;
const tokens = fs.readFileSync(tokenPath, "utf8").split("\n").map((t) => t.trim()).filter(Boolean);
const decoder = new TextDecoder();
// proxy-wasm: BufferType PluginConfiguration (7) and VmConfiguration (6); MapType
// HttpRequestHeaders (0); Status Ok (0) and NotFound (1); FilterHeadersStatus Continue (0).
const [VM_CONFIGURATION, PLUGIN_CONFIGURATION, REQUEST_HEADERS, OK, NOT_FOUND] = [6, 7, 0, 0, 1];
const PROPERTIES = { "source\0address": "127.0.0.1:40000", "request\0protocol": "HTTP/1.1" };
// spdlog's info (Envoy's default for the `wasm` logger): the audit line is written.
const LOG_LEVEL_INFO = 2;

/** The proxy-wasm header map serialization: count, (key, value) lengths, NUL-ended bytes. */
function serializeMap(pairs) {
  const encoded = pairs.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]);
  const size = 4 + encoded.length * 8 + encoded.reduce((s, [k, v]) => s + k.length + v.length + 2, 0);
  const out = Buffer.alloc(size);
  out.writeUInt32LE(encoded.length, 0);
  let at = 4;
  for (const [k, v] of encoded) {
    out.writeUInt32LE(k.length, at);
    out.writeUInt32LE(v.length, at + 4);
    at += 8;
  }
  for (const [k, v] of encoded) {
    k.copy(out, at);
    at += k.length + 1;
    v.copy(out, at);
    at += v.length + 1;
  }
  return out;
}

async function instantiate(module) {
  const [path, ownConfig] = module.split("=");
  const config = fs.readFileSync(ownConfig ?? configPath);
  let memory, exports;
  let headers = [];
  const calls = {};
  const count = (name) => (calls[name] = (calls[name] || 0) + 1);
  const bytes = () => new Uint8Array(memory.buffer);
  const view = () => new DataView(memory.buffer);
  const text = (ptr, len) => decoder.decode(bytes().subarray(ptr, ptr + len));
  const give = (data, retPtr, retSize) => {
    const ptr = exports.proxy_on_memory_allocate(data.length || 1);
    bytes().set(data, ptr);
    view().setUint32(retPtr, ptr, true);
    view().setUint32(retSize, data.length, true);
    return OK;
  };
  const setHeader = (name, value) => {
    headers = headers.filter(([k]) => k !== name);
    headers.push([name, value]);
  };
  const implemented = {
    proxy_log: (level, ptr, len) => {
      count("log");
      if (level >= 3) console.error(`[${path}] ${text(ptr, len)}`);
      return OK;
    },
    proxy_get_log_level: (retPtr) => {
      count("get_log_level");
      view().setUint32(retPtr, LOG_LEVEL_INFO, true);
      return OK;
    },
    proxy_get_buffer_bytes: (type, start, max, retPtr, retSize) =>
      give(type === PLUGIN_CONFIGURATION || type === VM_CONFIGURATION ? config : Buffer.alloc(0), retPtr, retSize),
    proxy_get_property: (ptr, len, retPtr, retSize) => {
      count("get_property");
      const value = PROPERTIES[text(ptr, len).replace(/\0$/, "")];
      return value === undefined ? NOT_FOUND : give(Buffer.from(value), retPtr, retSize);
    },
    proxy_set_property: () => (count("set_property"), OK),
    proxy_get_header_map_pairs: (type, retPtr, retSize) => {
      count("get_header_map_pairs");
      return give(serializeMap(type === REQUEST_HEADERS ? headers : []), retPtr, retSize);
    },
    proxy_get_header_map_value: (type, ptr, len, retPtr, retSize) => {
      count("get_header_map_value");
      const found = headers.find(([k]) => k === text(ptr, len));
      return found ? give(Buffer.from(found[1]), retPtr, retSize) : NOT_FOUND;
    },
    proxy_remove_header_map_value: (type, ptr, len) => {
      count("remove_header_map_value");
      const name = text(ptr, len);
      headers = headers.filter(([k]) => k !== name);
      return OK;
    },
    proxy_replace_header_map_value: (type, ptr, len, vPtr, vLen) => {
      count("replace_header_map_value");
      setHeader(text(ptr, len), text(vPtr, vLen));
      return OK;
    },
    proxy_add_header_map_value: (type, ptr, len, vPtr, vLen) => {
      count("add_header_map_value");
      headers.push([text(ptr, len), text(vPtr, vLen)]);
      return OK;
    },
    proxy_define_metric: (type, ptr, len, retId) => (view().setUint32(retId, 1, true), OK),
    proxy_increment_metric: () => (count("increment_metric"), OK),
    proxy_get_current_time_nanoseconds: (retPtr) => {
      count("get_current_time");
      view().setBigUint64(retPtr, BigInt(Date.now()) * 1000000n, true);
      return OK;
    },
    proxy_send_local_response: () => (count("send_local_response"), OK),
    proxy_get_shared_data: () => NOT_FOUND,
  };
  const env = new Proxy(implemented, { get: (impl, name) => impl[name] || (() => OK) });
  const wasi = {
    random_get: (ptr, len) => (crypto.randomFillSync(bytes().subarray(ptr, ptr + len)), 0),
    clock_time_get: (id, precision, retPtr) => {
      count("wasi clock_time_get");
      view().setBigUint64(retPtr, process.hrtime.bigint(), true);
      return 0;
    },
    environ_get: () => 0,
    environ_sizes_get: (countPtr, sizePtr) => (view().setUint32(countPtr, 0, true), view().setUint32(sizePtr, 0, true), 0),
    fd_write: () => 0,
    proc_exit: (code) => {
      throw new Error(`${path}: proc_exit(${code})`);
    },
  };
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(path), { env, wasi_snapshot_preview1: wasi });
  exports = instance.exports;
  memory = exports.memory;
  exports._initialize?.();
  exports.proxy_on_context_create(1, 0);
  exports.proxy_on_vm_start(1, 0);
  if (exports.proxy_on_configure(1, config.length) !== 1) throw new Error(`${path}: configuration refused`);
  const configuredBytes = memory.buffer.byteLength;
  let context = 2;
  const request = () => {
    const token = tokens[context % tokens.length];
    headers = [[":method", "GET"], [":path", "/orders"], [":authority", "db.internal"], [":scheme", "http"],
      ["x-jit-approval", token], ["user-agent", "v8host"], ["x-request-id", "abc-123"]];
    exports.proxy_on_context_create(context, 1);
    const status = exports.proxy_on_request_headers(context, headers.length, 1);
    exports.proxy_on_done(context);
    exports.proxy_on_delete(context);
    context += 1;
    return status;
  };
  return {
    path: module, request, calls, configuredBytes, memoryBytes: () => memory.buffer.byteLength,
    allowed: () => headers.some(([k]) => k === "x-jit-approval-id"),
  };
}

const mib = (n) => (n / 1048576).toFixed(1);
const hosts = [];
for (const path of modules) hosts.push(await instantiate(path));
for (const host of hosts) {
  // The first requests compile code (without Liftoff, a first call can run past the
  // evaluation budget): warm up, then check that the request really is allowed.
  for (let i = 0; i < 2000; i++) host.request();
  if (host.request() !== 0 || !host.allowed()) throw new Error(`${host.path}: the request was not allowed`);
  for (const name of Object.keys(host.calls)) delete host.calls[name];
  host.request();
  host.perRequest = { ...host.calls };
  host.times = [];
}
for (let batch = 0; batch < BATCHES; batch++) {
  for (const host of hosts) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) host.request();
    host.times.push(Number(process.hrtime.bigint() - start) / BATCH / 1000);
  }
}
const first = Math.min(...hosts[0].times);
for (const host of hosts) {
  const sorted = host.times.slice().sort((a, b) => a - b);
  console.log(
    `${host.path}: min ${sorted[0].toFixed(1)} µs, median ${sorted[sorted.length >> 1].toFixed(1)} µs per request ` +
      `(min ${(sorted[0] / first).toFixed(2)}× the first module); host calls per request: ${JSON.stringify(host.perRequest)}; ` +
      `linear memory ${mib(host.configuredBytes)} MiB configured, ${mib(host.memoryBytes())} MiB after ${BATCH * BATCHES + 2001} requests`,
  );
}
