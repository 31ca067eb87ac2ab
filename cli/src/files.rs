//! Reading the files the commands take: configurations, requests, keys, times.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _, Result};
use jitgate_core::parse_time_ns;
use jitgate_core::{Config, Gate, Request};
use jitgate_mint::SigningKey;
use serde_json::Value;

/// Reads a file as text; `-` reads standard input.
pub fn read_text(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        return std::io::read_to_string(std::io::stdin()).context("reading standard input");
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Result<Value> {
    let text = read_text(path)?;
    serde_json::from_str(&text).with_context(|| format!("`{}` is not valid JSON", path.display()))
}

/// Loads a plugin configuration; each `--policy FILE.rego` adds (or replaces) the
/// module named after the file.
pub fn load_config(path: &Path, policies: &[PathBuf]) -> Result<Config> {
    load_config_text(path, policies).map(|(config, _)| config)
}

/// [`load_config`], with the text the configuration was parsed from: the file's, or
/// with `--policy` files the merged document's (read once, so what is checked is what
/// a caller passes on).
pub fn load_config_text(path: &Path, policies: &[PathBuf]) -> Result<(Config, String)> {
    let mut text = read_text(path)?;
    if !policies.is_empty() {
        // Strict, like `Config::from_json_str`: a duplicate member is an error here too.
        let mut value = jitgate_core::unstable::json::parse_strict(text.as_bytes())
            .map_err(|e| anyhow!("`{}` is not a valid configuration: {e}", path.display()))?;
        add_policy_files(&mut value, path, policies)?;
        text = serde_json::to_string_pretty(&value)?;
    }
    let config = Config::from_json_str(&text).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
    Ok((config, text))
}

/// Adds each `--policy FILE.rego` to the configuration document's `policy.modules`,
/// named after the file (replacing a module of that name).
fn add_policy_files(config: &mut Value, path: &Path, policies: &[PathBuf]) -> Result<()> {
    let modules = config
        .pointer_mut("/policy/modules")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            anyhow!(
                "`{}`: `policy.modules` must be an object to add --policy files",
                path.display()
            )
        })?;
    for file in policies {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        modules.insert(name, Value::String(read_text(file)?));
    }
    Ok(())
}

/// Compiles a configuration into a gate, seeded from the OS so decision ids are unique.
pub fn gate(config: Config, path: &Path) -> Result<Gate> {
    let mut gate = Gate::from_config(config).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
    let mut seed = [0u8; 16];
    getrandom::getrandom(&mut seed).map_err(|e| anyhow!("no randomness for decision ids: {e}"))?;
    gate.set_instance_seed(seed);
    for warning in gate.warnings() {
        eprintln!("jitgate: warning: {warning}");
    }
    Ok(gate)
}

/// Reads REQUEST.json (`{"method", "path", "headers", "source"}`).
#[cfg_attr(not(feature = "harness"), allow(dead_code))] // read by `jitgate run`
pub fn load_request(path: &Path) -> Result<Request> {
    Request::from_json(read_json(path)?).map_err(|e| anyhow!("`{}`: {e}", path.display()))
}

/// Reads REQUEST.json like [`load_request`], but a value a client could have sent and
/// the gate cannot read (an absolute-form path, an invalid header name) is `Ok(Err(detail))`:
/// the caller decides it as a denial (`request_invalid`), as every host does. Only a
/// file that is not the request form is an error.
pub fn load_request_or_refusal(path: &Path) -> Result<std::result::Result<Request, String>> {
    match Request::from_json(read_json(path)?) {
        Ok(request) => Ok(Ok(request)),
        Err(e) if e.kind == jitgate_core::RequestErrorKind::Value => Ok(Err(e.to_string())),
        Err(e) => Err(anyhow!("`{}`: {e}", path.display())),
    }
}

/// Parses TIME: RFC 3339 or integer Unix seconds, into ns since the epoch.
pub fn parse_time(text: &str) -> Result<i64> {
    parse_time_ns(text).ok_or_else(|| anyhow!("`{text}` is not an RFC 3339 time or integer Unix seconds"))
}

/// A token argument: the token itself, or `@FILE` to read it from a file.
pub fn token_arg(arg: &str) -> Result<String> {
    match arg.strip_prefix('@') {
        Some(file) => Ok(read_text(Path::new(file))?.trim().to_owned()),
        None => Ok(arg.to_owned()),
    }
}

/// Reads a private JWK file.
pub fn load_signing_key(path: &Path) -> Result<(SigningKey, String)> {
    let jwk = read_json(path)?;
    let key = SigningKey::from_jwk(&jwk).map_err(|e| anyhow!("`{}`: {e}", path.display()))?;
    let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok((key, kid))
}

/// Prints JSON, pretty unless `compact`.
pub fn print_json(value: &Value, compact: bool) {
    let text = if compact {
        value.to_string()
    } else {
        serde_json::to_string_pretty(value).unwrap_or_default()
    };
    outln!("{text}");
}

/// Writes to standard output. A closed pipe is not an error (the reader has what it
/// wanted); any other write error is reported on standard error, once per write.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    match std::io::stdout().lock().write_fmt(args) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => eprintln!("jitgate: writing the output: {e}"),
        _ => {}
    }
}
