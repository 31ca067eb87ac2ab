//! Which functions a policy calls, checked when the configuration is loaded.
//!
//! regorus resolves a function call when it evaluates it, so a module that calls
//! `http.send` (which jitgate does not provide: it would be a network hop) or a
//! misspelt builtin compiles, and then every request it reaches is an evaluation
//! error. jitgate reads the calls of every module instead — a small Rego tokenizer
//! that skips strings and comments — and refuses, naming module, line and function,
//! any call that is neither a builtin of this build ([`provided`]) nor a function the
//! modules define or import.

use std::collections::BTreeSet;

/// Every builtin regorus registers, with the regorus feature it needs.
const REGORUS_BUILTINS: &str = include_str!("regorus_builtins.txt");

/// Whether this build of jitgate has the builtins of a regorus feature.
fn feature_enabled(feature: &str) -> bool {
    match feature {
        "core" => true,
        "time" => cfg!(feature = "time"),
        "glob" => cfg!(feature = "glob"),
        "regex" => cfg!(feature = "regex"),
        "semver" => cfg!(feature = "semver"),
        "base64" | "base64url" | "hex" => cfg!(feature = "encoding"),
        "net" => cfg!(feature = "net"),
        // `rand.intn` (std): refused in every host (see `builtins`); the others
        // (http, uuid, yaml, urlquery, graph, opa-runtime, …) are not built in.
        _ => false,
    }
}

/// The builtins this build provides, by name (`print` included).
pub fn provided() -> BTreeSet<&'static str> {
    let mut names: BTreeSet<&'static str> = REGORUS_BUILTINS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (name, _arity, feature) = (parts.next()?, parts.next()?, parts.next()?);
            feature_enabled(feature).then_some(name)
        })
        .collect();
    names.insert("print");
    // Always there: the injected clock (`policy::load_modules`), with or without `time`.
    names.insert("time.now_ns");
    names
}

/// Builtins regorus may have but jitgate refuses, with why.
const REFUSED: &[(&str, &str)] = &[("rand.intn", "a decision must not be random")];

const KEYWORDS: &[&str] = &[
    "package", "import", "default", "else", "if", "contains", "every", "some", "not", "with", "as", "in", "true",
    "false", "null",
];

/// A call found in a module: the function path and its line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `time.clock`, `lib.helper`, `count`.
    pub path: String,
    /// 1-based line of the call.
    pub line: usize,
}

/// What a module defines and calls.
#[derive(Debug, Default)]
struct Scan {
    calls: Vec<Call>,
    /// Function names defined at the top level (`f(x) := …`, `default f(_) := …`).
    defined: BTreeSet<String>,
    /// Names brought in by `import data.x.y` (`y`) or `import … as z` (`z`).
    imported: BTreeSet<String>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Path(String),
    Open(char),
    Close,
    Other,
}

/// Splits Rego source into the tokens the call check needs: dotted identifier paths,
/// brackets; strings, raw strings, comments and numbers are skipped.
fn tokenize(source: &str) -> Vec<(Token, usize, bool)> {
    let mut tokens = Vec::new();
    let mut chars = source.chars().peekable();
    let mut line = 1;
    let mut line_start = true;
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                line_start = true;
                continue;
            }
            c if c.is_whitespace() => continue,
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
                continue;
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
                tokens.push((Token::Other, line, line_start));
            }
            '`' => {
                for c in chars.by_ref() {
                    match c {
                        '`' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
                tokens.push((Token::Other, line, line_start));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut path = String::from(c);
                loop {
                    match chars.peek() {
                        Some(&n) if n.is_ascii_alphanumeric() || n == '_' => {
                            path.push(n);
                            chars.next();
                        }
                        Some('.') => {
                            // A dot continues the path only when an identifier follows.
                            let mut ahead = chars.clone();
                            ahead.next();
                            if ahead.peek().is_some_and(|&n| n.is_ascii_alphabetic() || n == '_') {
                                path.push('.');
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                tokens.push((Token::Path(path), line, line_start));
            }
            '(' | '[' | '{' => tokens.push((Token::Open(c), line, line_start)),
            ')' | ']' | '}' => tokens.push((Token::Close, line, line_start)),
            _ => tokens.push((Token::Other, line, line_start)),
        }
        line_start = false;
    }
    tokens
}

fn scan(source: &str) -> Scan {
    let tokens = tokenize(source);
    let mut out = Scan::default();
    let mut depth: usize = 0;
    for (i, (token, line, at_line_start)) in tokens.iter().enumerate() {
        match token {
            Token::Open(_) => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Path(path) => {
                let previous = i.checked_sub(1).and_then(|p| tokens.get(p)).map(|t| &t.0);
                let next = tokens.get(i + 1).map(|t| &t.0);
                if path == "import" {
                    if let Some((Token::Path(target), _, _)) = tokens.get(i + 1) {
                        let alias = match tokens.get(i + 2) {
                            Some((Token::Path(kw), _, _)) if kw == "as" => match tokens.get(i + 3) {
                                Some((Token::Path(alias), _, _)) => alias.clone(),
                                _ => String::new(),
                            },
                            _ => target.rsplit('.').next().unwrap_or_default().to_owned(),
                        };
                        out.imported.insert(alias);
                    }
                    continue;
                }
                if next != Some(&Token::Open('(')) {
                    continue;
                }
                let first = path.split('.').next().unwrap_or_default();
                if KEYWORDS.contains(&first) {
                    continue;
                }
                let head =
                    depth == 0 && (*at_line_start || matches!(previous, Some(Token::Path(kw)) if kw == "default"));
                if head {
                    out.defined.insert(path.clone());
                } else {
                    out.calls.push(Call {
                        path: path.clone(),
                        line: *line,
                    });
                }
            }
            Token::Other => {}
        }
    }
    out
}

/// Why a module cannot be used: the module, the line and the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCall {
    /// The module's name.
    pub module: String,
    /// The call.
    pub call: Call,
    /// What is wrong with it.
    pub message: String,
}

/// Checks that every function the modules call exists: a builtin of this build, or a
/// function the modules define (by name, or through `data.…`) or import.
pub fn check<'m>(modules: impl IntoIterator<Item = (&'m str, &'m str)> + Clone) -> Result<(), UnknownCall> {
    let provided = provided();
    let scans: Vec<(&str, Scan)> = modules.into_iter().map(|(name, src)| (name, scan(src))).collect();
    let defined: BTreeSet<&str> = scans
        .iter()
        .flat_map(|(_, s)| s.defined.iter().map(String::as_str))
        .collect();
    for (module, scan) in &scans {
        for call in &scan.calls {
            let path = call.path.as_str();
            let first = path.split('.').next().unwrap_or_default();
            let last = path.rsplit('.').next().unwrap_or_default();
            if let Some((_, why)) = REFUSED.iter().find(|(name, _)| *name == path) {
                return Err(UnknownCall {
                    module: (*module).to_owned(),
                    call: call.clone(),
                    message: format!("calls `{path}`, which jitgate refuses: {why}"),
                });
            }
            let known = provided.contains(path)
                || defined.contains(path)
                || first == "data"
                || first == "input"
                || scan.imported.contains(first)
                || (path.contains('.') && defined.contains(last) && !provided.contains(first));
            if !known {
                return Err(UnknownCall {
                    module: (*module).to_owned(),
                    call: call.clone(),
                    message: format!(
                        "calls `{path}`, which is neither a builtin jitgate provides nor a function the policy defines"
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_one(src: &str) -> Result<(), UnknownCall> {
        check([("p.rego", src)])
    }

    #[test]
    fn builtins_and_own_functions_pass() {
        let src = r#"package t
import rego.v1
import data.lib.helpers
import data.other as o

default allowed(_) := false
allowed(x) if startswith(x, "/")

ok(x) := y if {
    y := count(split(x, "/"))
    helpers.clean(x)
    o.thing(x)
    data.t.allowed(x)
}

msg := sprintf("%s is `http.send(`", ["x"]) # http.send( in a comment
"#;
        check_one(src).unwrap();
    }

    #[test]
    fn unknown_and_refused_calls_are_named_with_their_line() {
        let e =
            check_one("package t\n\nallow if {\n  http.send({\"url\": \"x\"}).status_code == 200\n}\n").unwrap_err();
        assert_eq!(
            (e.module.as_str(), e.call.path.as_str(), e.call.line),
            ("p.rego", "http.send", 4)
        );
        let e = check_one("package t\nallow if contians(input.path, \"x\")\n").unwrap_err();
        assert_eq!(e.call.path, "contians");
        let e = check_one("package t\nx := rand.intn(\"a\", 10)\n").unwrap_err();
        assert!(e.message.contains("refuses"), "{}", e.message);
    }

    #[test]
    fn every_listed_feature_builtin_is_known_when_enabled() {
        let names = provided();
        assert!(names.contains("count") && names.contains("print"));
        assert!(!names.contains("http.send") && !names.contains("rand.intn"));
        assert_eq!(names.contains("time.clock"), cfg!(feature = "time"));
        assert!(
            names.contains("time.now_ns"),
            "the injected clock is there in every build"
        );
    }
}
