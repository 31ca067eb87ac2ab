//! Compiling and checking a filter module once, for any number of hosts.

use crate::abi::{envoy_provides, AbiVersion};
use crate::error::Error;
use std::path::Path;
use std::sync::Arc;
use wasmtime::{Engine, ExternType, Module};

/// A compiled proxy-wasm module that passed Envoy's load-time checks. Cheap to clone; create
/// one per file and a [`Host`](crate::Host) per test.
///
/// Checks, in Envoy's order:
/// 1. the bytes compile;
/// 2. the first `proxy_abi_version_*` function export names the ABI (0.2.1 or 0.2.0, which
///    Envoy also accepts; 0.1.0 is accepted by Envoy but not simulated here);
/// 3. every import is one Envoy provides for that ABI ([`crate::abi::envoy_provides`]) — else
///    the error lists every other import;
/// 4. `memory` and `malloc` or `proxy_on_memory_allocate` are exported.
#[derive(Clone)]
pub struct FilterModule {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    module: Module,
    abi: AbiVersion,
}

impl std::fmt::Debug for FilterModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterModule")
            .field("abi", &self.inner.abi)
            .finish_non_exhaustive()
    }
}

impl FilterModule {
    /// Reads and checks the module at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Checks a module given as WebAssembly binary bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let engine = Engine::new(&wasmtime::Config::new()).map_err(|e| Error::Compile(format!("{e:#}")))?;
        let module = Module::new(&engine, bytes).map_err(|e| Error::Compile(format!("{e:#}")))?;
        let abi = abi_version(&module)?;

        let unsupported: Vec<String> = module
            .imports()
            .filter(|import| {
                !(matches!(import.ty(), ExternType::Func(_)) && envoy_provides(abi, import.module(), import.name()))
            })
            .map(|import| {
                let kind = match import.ty() {
                    ExternType::Func(_) => "",
                    ExternType::Memory(_) => " (memory)",
                    ExternType::Table(_) => " (table)",
                    ExternType::Global(_) => " (global)",
                    _ => " (other)",
                };
                format!("`{}.{}`{kind}", import.module(), import.name())
            })
            .collect();
        if !unsupported.is_empty() {
            return Err(Error::UnsupportedImports(unsupported));
        }

        if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
            return Err(Error::MissingExport("`memory`".into()));
        }
        let has_func = |name| matches!(module.get_export(name), Some(ExternType::Func(_)));
        if !has_func("malloc") && !has_func("proxy_on_memory_allocate") {
            // Envoy: "Wasm module is missing malloc function."
            return Err(Error::MissingExport("`malloc` or `proxy_on_memory_allocate`".into()));
        }
        Ok(Self {
            inner: Arc::new(Inner { engine, module, abi }),
        })
    }

    /// The ABI version the module declares.
    pub fn abi_version(&self) -> AbiVersion {
        self.inner.abi
    }

    /// The module's imports, as `module.name`.
    pub fn imports(&self) -> Vec<String> {
        self.inner
            .module
            .imports()
            .map(|i| format!("{}.{}", i.module(), i.name()))
            .collect()
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn module(&self) -> &Module {
        &self.inner.module
    }
}

/// Envoy's `getAbiVersion`: the first function export with a known `proxy_abi_version_*` name.
fn abi_version(module: &Module) -> Result<AbiVersion, Error> {
    for export in module.exports() {
        if !matches!(export.ty(), ExternType::Func(_)) {
            continue;
        }
        match export.name() {
            "proxy_abi_version_0_2_1" => return Ok(AbiVersion::V0_2_1),
            "proxy_abi_version_0_2_0" => return Ok(AbiVersion::V0_2_0),
            "proxy_abi_version_0_1_0" => {
                return Err(Error::AbiVersion(
                    "`proxy_abi_version_0_1_0`: Envoy accepts ABI 0.1.0 but this harness only simulates 0.2.x".into(),
                ))
            }
            _ => {}
        }
    }
    Err(Error::AbiVersion(
        "no `proxy_abi_version_0_2_1` or `proxy_abi_version_0_2_0` export (Envoy: \"Missing or unknown Proxy-Wasm ABI version\")".into(),
    ))
}
