;; The smallest proxy-wasm HTTP filter Envoy runs: it answers every callback at once
;; and makes no host call. `make bench-envoy` measures it (variant `wasm-noop`) to show
;; what any Wasm filter costs per request in Envoy's V8, before it does any work.
;; Built by e2e/bench.py with wat2wasm (Debian package wabt).
(module
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1"))
  ;; A bump allocator that starts over past 64 KiB (Envoy only allocates here to hand
  ;; over the configuration, which this module never reads).
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $at i32)
    (if (i32.gt_u (i32.add (global.get $next) (local.get $size)) (i32.const 65536))
      (then (global.set $next (i32.const 1024))))
    (local.set $at (global.get $next))
    (global.set $next (i32.add (local.get $at) (i32.and (i32.add (local.get $size) (i32.const 15)) (i32.const -16))))
    (local.get $at))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_context_create") (param i32 i32))
  ;; 0: Continue.
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32)))
