//! The Rego builtins that behave the same in every host and cannot be made to panic.
//!
//! regorus looks engine extensions up before its builtins, so jitgate installs, in
//! every engine it builds ([`crate::policy::load_modules`]), checked versions of the
//! builtins that request data could otherwise turn into a panic (a Wasm trap that kills
//! the Envoy worker's VM) or into a decision that depends on the machine:
//!
//! | builtin | what jitgate adds |
//! |---|---|
//! | `numbers.range`, `numbers.range_step` | at most [`MAX_RANGE_ELEMENTS`] elements; a zero or negative step is an error (regorus divides by it) |
//! | `sprintf` | a width or precision is ASCII digits and at most [`MAX_FORMAT_WIDTH`] (regorus panics on other numeric characters and overflows on long ones) |
//! | `strings.count` | an empty substring counts like Go's `strings.Count` (characters + 1; regorus panics) |
//! | `replace` | a result of at most [`MAX_REPLACED_BYTES`] when it grows the string (an empty `old` inserts `new` at every character: two request headers of 60 KiB would make 3.6 GB, and an allocation failure traps the VM) |
//! | `strings.replace_n`, `regex.replace` | the same bound on the result (`replace_n` applies its pairs one after another, so growth compounds; `regex.replace` expands `$1` in the value for every match) |
//! | `bits.lsh` | a shift of at most [`MAX_SHIFT_BITS`] (regorus shifts by up to 2³² − 1: one request could make the VM allocate 512 MiB, which a Wasm memory never gives back) |
//! | `object.subset` | an empty array is a subset of any array (regorus panics) — evaluated by jitgate |
//! | `regex.template_match` | regorus's algorithm with checked slicing: a value shorter than the template's literal does not match (regorus slices past its end), delimiters that overlap in the template are an error (regorus slices backwards) — evaluated by jitgate; found by the `builtins` fuzz target |
//! | `time.parse_ns`, `time.parse_duration_ns` | the arguments are ASCII (regorus slices inside a character on some others; found by the `builtins` fuzz target) |
//! | `time.format` | a layout (`[ns, zone, layout]`) is ASCII (the same slicing; found by the `builtins` fuzz target) |
//! | `time.clock`, `time.date`, `time.weekday`, `time.diff`, `time.format`, `time.add_date` | the zone `"Local"` is an error: it is the machine's own zone, so the same request would decide differently on different hosts |
//! | `rand.intn` | always an error: regorus has it only in `std` builds, and a decision must not be random |
//!
//! A checked builtin validates its arguments, then evaluates the original builtin in
//! a small private engine (one per thread, built on first use), so the results are
//! regorus's own. An error is an evaluation error: the decision is `policy_error`.

use std::cell::RefCell;

use regorus::{Engine, Value};

/// The most elements `numbers.range` and `numbers.range_step` may return.
pub const MAX_RANGE_ELEMENTS: i64 = 100_000;

/// The largest width or precision a `sprintf` verb may ask for.
pub const MAX_FORMAT_WIDTH: u32 = 1_000;

/// The longest string `replace` may return when it makes its argument longer (bytes).
pub const MAX_REPLACED_BYTES: usize = 1 << 20;

/// The largest shift `bits.lsh` may ask for (bits).
pub const MAX_SHIFT_BITS: u32 = 4_096;

/// One builtin jitgate replaces: its name, arity and the rule of the delegate module
/// that evaluates the original.
struct Checked {
    name: &'static str,
    arity: u8,
    check: fn(&[Value]) -> Result<(), String>,
}

const CHECKED: &[Checked] = &[
    Checked {
        name: "numbers.range",
        arity: 2,
        check: check_range,
    },
    Checked {
        name: "numbers.range_step",
        arity: 3,
        check: check_range_step,
    },
    Checked {
        name: "sprintf",
        arity: 2,
        check: check_sprintf,
    },
    Checked {
        name: "strings.count",
        arity: 2,
        check: check_nothing,
    },
    Checked {
        name: "replace",
        arity: 3,
        check: check_replace,
    },
    Checked {
        name: "strings.replace_n",
        arity: 2,
        check: check_replace_n,
    },
    #[cfg(feature = "regex")]
    Checked {
        name: "regex.replace",
        arity: 3,
        check: check_regex_replace,
    },
    Checked {
        name: "bits.lsh",
        arity: 2,
        check: check_shift,
    },
    #[cfg(feature = "time")]
    Checked {
        name: "time.parse_ns",
        arity: 2,
        check: check_ascii_strings,
    },
    #[cfg(feature = "time")]
    Checked {
        name: "time.parse_duration_ns",
        arity: 1,
        check: check_ascii_strings,
    },
    #[cfg(feature = "time")]
    Checked {
        name: "time.clock",
        arity: 1,
        check: check_no_local_zone,
    },
    #[cfg(feature = "time")]
    Checked {
        name: "time.date",
        arity: 1,
        check: check_no_local_zone,
    },
    #[cfg(feature = "time")]
    Checked {
        name: "time.weekday",
        arity: 1,
        check: check_no_local_zone,
    },
    #[cfg(feature = "time")]
    Checked {
        name: "time.format",
        arity: 1,
        check: check_time_format,
    },
    #[cfg(feature = "time")]
    Checked {
        name: "time.diff",
        arity: 2,
        check: check_no_local_zone,
    },
    #[cfg(feature = "time")]
    Checked {
        name: "time.add_date",
        arity: 4,
        check: check_no_local_zone,
    },
];

/// The package of the delegate module.
const DELEGATE_PACKAGE: &str = "jitgate_delegate";

/// The delegate rule for a builtin (`time.clock` → `time_clock`).
fn rule_name(builtin: &str) -> String {
    builtin.replace('.', "_")
}

fn delegate_module() -> String {
    let mut module = format!("package {DELEGATE_PACKAGE}\n");
    for c in CHECKED {
        let args: Vec<String> = (0..c.arity).map(|i| format!("input.args[{i}]")).collect();
        module.push_str(&format!("{} := {}({})\n", rule_name(c.name), c.name, args.join(", ")));
    }
    module
}

thread_local! {
    /// The engine that evaluates the original builtins (regorus's engines are not
    /// `Send`, extensions must be: one per thread, built on first use). It is reused, not
    /// cloned, from one call to the next: its first evaluation prepares it (regorus's
    /// analysis and loop hoisting of the delegate module), and a clone of an engine is
    /// prepared again. Each evaluation starts from a clean evaluation state.
    static DELEGATE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Evaluates the original `builtin` on `args`.
fn delegate(builtin: &str, args: Vec<Value>) -> anyhow::Result<Value> {
    let rule = format!("data.{DELEGATE_PACKAGE}.{}", rule_name(builtin));
    DELEGATE.with(|slot| {
        let mut slot = slot
            .try_borrow_mut()
            .map_err(|_| anyhow::anyhow!("{builtin}: re-entered"))?;
        let engine = match &mut *slot {
            Some(engine) => engine,
            empty => {
                let mut engine = Engine::new();
                engine.add_policy("jitgate_delegate.rego".into(), delegate_module())?;
                empty.insert(engine)
            }
        };
        let mut input = Value::new_object();
        if let Ok(map) = input.as_object_mut() {
            map.insert(Value::from("args"), Value::from(args));
        }
        engine.set_input(input);
        engine.eval_rule(rule)
    })
}

/// The builtins jitgate evaluates itself (name, arity): the checked ones, `object.subset`,
/// `regex.template_match` and the refused `rand.intn`. Engines get them as extensions
/// ([`install`]); the RVM as host-await builtins (`crate::rvm`), both through [`call`].
pub(crate) fn overridden() -> impl Iterator<Item = (&'static str, u8)> {
    CHECKED
        .iter()
        .map(|c| (c.name, c.arity))
        .chain([("object.subset", 2)])
        .chain(cfg!(feature = "regex").then_some(("regex.template_match", 4)))
        .chain([("rand.intn", 2)])
}

/// Evaluates the overridden builtin `name` (one of [`overridden`]) on `args`.
pub(crate) fn call(name: &str, args: Vec<Value>) -> anyhow::Result<Value> {
    if let Some(c) = CHECKED.iter().find(|c| c.name == name) {
        (c.check)(&args).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        if name == "strings.count" {
            if let Some(count) = count_of_empty(&args) {
                return Ok(count);
            }
        }
        return delegate(name, args);
    }
    match name {
        "object.subset" => match (args.first(), args.get(1)) {
            (Some(sup), Some(sub)) => Ok(Value::Bool(is_subset(sup, sub))),
            _ => Err(anyhow::anyhow!("object.subset: expects two arguments")),
        },
        #[cfg(feature = "regex")]
        "regex.template_match" => template_match(&args).map_err(|e| anyhow::anyhow!("regex.template_match: {e}")),
        "rand.intn" => Err(anyhow::anyhow!(
            "rand.intn: not available in jitgate (a decision must not be random, and must be the same in every host)"
        )),
        _ => Err(anyhow::anyhow!("{name}: not a builtin jitgate evaluates")),
    }
}

/// Installs the checked builtins and the refused ones in `engine`.
pub(crate) fn install(engine: &mut Engine) -> anyhow::Result<()> {
    for (name, arity) in overridden() {
        engine.add_extension(name.into(), arity, Box::new(move |args: Vec<Value>| call(name, args)))?;
    }
    Ok(())
}

/// The size limit regorus compiles `regex.*` patterns with (`REGEX_SIZE_LIMIT`).
#[cfg(feature = "regex")]
const REGEX_SIZE_LIMIT: usize = 100 * 1024;

/// `regex.template_match(template, value, delimiter_start, delimiter_end)`: regorus
/// 0.14.1's algorithm (`builtins/regex.rs`), the same result wherever regorus returns
/// one, with its two panics made answers: a value too short for (or not sharing) the
/// literal before a pattern is `false`; a start delimiter that runs into the end
/// delimiter is an error.
#[cfg(feature = "regex")]
fn template_match(args: &[Value]) -> Result<Value, String> {
    let string = |i: usize, what: &str| match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("{what} must be a string")),
    };
    let (template, value) = (string(0, "the template")?, string(1, "the value")?);
    let (open, close) = (string(2, "the start delimiter")?, string(3, "the end delimiter")?);
    let (mut template, mut value) = (template.as_ref(), value.as_ref());
    let (open, close) = (open.as_ref(), close.as_ref());
    while let (Some(start), Some(end)) = (template.find(open), template.find(close)) {
        if start >= end {
            return Ok(Value::Undefined);
        }
        let (Some(pattern), Some(literal)) = (template.get(start + open.len()..end), template.get(..start)) else {
            return Err("the start delimiter runs into the end delimiter".into());
        };
        if value.get(..start) != Some(literal) {
            return Ok(Value::Bool(false));
        }
        let re = compiled_regex(pattern)?;
        value = value.get(start..).unwrap_or_default();
        let Some(m) = re.find(value).filter(|m| m.start() == 0) else {
            return Ok(Value::Bool(false));
        };
        value = value.get(m.end()..).unwrap_or_default();
        template = template.get(end + close.len()..).unwrap_or_default();
    }
    Ok(Value::Bool(template == value))
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) if n.is_integer() => n.as_i64(),
        _ => None,
    }
}

/// An integer that does not fit in 64 bits (regorus overflows on those).
fn huge_integer(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Number(n)) if n.is_integer() && n.as_i64().is_none())
}

fn check_nothing(_args: &[Value]) -> Result<(), String> {
    Ok(())
}

/// `replace(s, old, new)`: at most [`MAX_REPLACED_BYTES`] when the result is longer than
/// `s` (each occurrence of `old`, or each character boundary when it is empty, becomes
/// `new`). Arguments of another type are regorus's to refuse.
fn check_replace(args: &[Value]) -> Result<(), String> {
    let (Some(Value::String(s)), Some(Value::String(old)), Some(Value::String(new))) =
        (args.first(), args.get(1), args.get(2))
    else {
        return Ok(());
    };
    bounded_growth(replaced_length(s, old, new), s.len())
}

/// The length of `s` with every occurrence of `old` (every character boundary when it
/// is empty, as Rust's and Go's `replace` do) replaced by `new`, without building it.
fn replaced_length(s: &str, old: &str, new: &str) -> usize {
    let replaced = if old.is_empty() {
        s.chars().count().saturating_add(1)
    } else {
        s.matches(old).count()
    };
    s.len()
        .saturating_sub(replaced.saturating_mul(old.len()))
        .saturating_add(replaced.saturating_mul(new.len()))
}

/// A result of `length` bytes made from `original` bytes: refused past
/// [`MAX_REPLACED_BYTES`] when it grew.
fn bounded_growth(length: usize, original: usize) -> Result<(), String> {
    if length > MAX_REPLACED_BYTES && length > original {
        return Err(format!(
            "the result could be {length} bytes, more than {MAX_REPLACED_BYTES}"
        ));
    }
    Ok(())
}

/// `strings.replace_n(patterns, s)`: regorus replaces each key of `patterns` by its value,
/// in key order, in the string as the previous pairs left it, so growth compounds (pairs
/// `"a": "bb"`, `"b": "cc"` quadruple). The steps are replayed here, each held to
/// [`MAX_REPLACED_BYTES`]. Arguments of another type are regorus's to refuse.
fn check_replace_n(args: &[Value]) -> Result<(), String> {
    let (Some(Value::Object(patterns)), Some(Value::String(s))) = (args.first(), args.get(1)) else {
        return Ok(());
    };
    let mut current: String = s.as_ref().to_owned();
    for (key, value) in patterns.iter_sorted() {
        let (Value::String(old), Value::String(new)) = (key, value) else {
            return Ok(());
        };
        bounded_growth(replaced_length(&current, old, new), s.len())?;
        current = current.replace(old.as_ref(), new.as_ref());
    }
    Ok(())
}

/// `regex.replace(s, pattern, value)`: the result's length (every match of `pattern`
/// replaced by `value`), at most [`MAX_REPLACED_BYTES`] when it grows `s`. A `$1` or
/// `${name}` in `value` expands to part of the match, so each reference is counted as
/// long as the whole match: a bound, computed without building the result. A pattern
/// that does not compile is regorus's to answer.
#[cfg(feature = "regex")]
fn check_regex_replace(args: &[Value]) -> Result<(), String> {
    let (Some(Value::String(s)), Some(Value::String(pattern)), Some(Value::String(value))) =
        (args.first(), args.get(1), args.get(2))
    else {
        return Ok(());
    };
    let Ok(re) = compiled_regex(pattern) else {
        return Ok(());
    };
    let (s, value) = (s.as_ref(), value.as_ref());
    let references = value.matches('$').count();
    let mut length = s.len();
    for m in re.find_iter(s) {
        let expansion = value.len().saturating_add(references.saturating_mul(m.len()));
        length = length.saturating_sub(m.len()).saturating_add(expansion);
    }
    bounded_growth(length, s.len())
}

/// `bits.lsh(x, s)`: `s` at most [`MAX_SHIFT_BITS`]. A shift regorus cannot read as a
/// 32-bit count (negative, fractional, larger) is its to answer (undefined).
fn check_shift(args: &[Value]) -> Result<(), String> {
    match args.get(1) {
        Some(Value::Number(n))
            if n.as_u64()
                .is_some_and(|s| s > u64::from(MAX_SHIFT_BITS) && s <= u64::from(u32::MAX)) =>
        {
            Err(format!("a shift of more than {MAX_SHIFT_BITS} bits"))
        }
        _ => Ok(()),
    }
}

#[cfg(feature = "time")]
fn check_ascii_strings(args: &[Value]) -> Result<(), String> {
    if args.iter().any(|a| matches!(a, Value::String(s) if !s.is_ascii())) {
        return Err("the layout and the value must be ASCII".into());
    }
    Ok(())
}

/// `strings.count(s, "")`: Go's `strings.Count` gives the number of characters + 1.
fn count_of_empty(args: &[Value]) -> Option<Value> {
    match (args.first(), args.get(1)) {
        (Some(Value::String(s)), Some(Value::String(sub))) if sub.is_empty() => {
            Some(Value::from(s.chars().count().saturating_add(1) as u64))
        }
        _ => None,
    }
}

/// OPA's `object.subset`: objects recursively, sets by membership, an array as a
/// contiguous run of another (the empty array is in every array), else equality.
fn is_subset(sup: &Value, sub: &Value) -> bool {
    match (sup, sub) {
        (Value::Object(sup), Value::Object(sub)) => sub
            .iter()
            .all(|(k, vsub)| sup.get(k).is_some_and(|vsup| is_subset(vsup, vsub))),
        (Value::Set(sup), Value::Set(sub)) => sub.iter().all(|v| sup.contains(v)),
        (Value::Array(sup), Value::Array(sub)) => {
            let sup: Vec<&Value> = sup.iter().collect();
            let sub: Vec<&Value> = sub.iter().collect();
            sub.is_empty() || sup.windows(sub.len()).any(|w| w == sub.as_slice())
        }
        (Value::Array(sup), Value::Set(sub)) => sub.iter().all(|v| sup.iter().any(|x| x == v)),
        (sup, sub) => sup == sub,
    }
}

fn bounded_count(from: i64, to: i64, step: i64) -> Result<(), String> {
    let span = i128::from(to) - i128::from(from);
    let count = span.unsigned_abs() / u128::from(step.unsigned_abs()) + 1;
    if count > MAX_RANGE_ELEMENTS.unsigned_abs().into() {
        return Err(format!(
            "the range has {count} elements, more than the {MAX_RANGE_ELEMENTS} jitgate allows"
        ));
    }
    Ok(())
}

fn check_range(args: &[Value]) -> Result<(), String> {
    if huge_integer(args.first()) || huge_integer(args.get(1)) {
        return Err("a bound does not fit in 64 bits".into());
    }
    match (args.first().and_then(integer), args.get(1).and_then(integer)) {
        (Some(from), Some(to)) => bounded_count(from, to, 1),
        // Not integers: regorus decides (undefined or a type error) without allocating.
        _ => Ok(()),
    }
}

fn check_range_step(args: &[Value]) -> Result<(), String> {
    if args.iter().any(|a| huge_integer(Some(a))) {
        return Err("a bound or the step does not fit in 64 bits".into());
    }
    let step = args.get(2);
    if let Some(Value::Number(n)) = step {
        // A fractional step too, as OPA refuses it.
        if n.as_f64().is_some_and(|f| f <= 0.0) || !n.is_integer() || n.as_i64().is_none() {
            return Err("the step must be a positive integer".into());
        }
    }
    match (
        args.first().and_then(integer),
        args.get(1).and_then(integer),
        step.and_then(integer),
    ) {
        (Some(from), Some(to), Some(step)) if step > 0 => {
            // regorus negates the span `to - from` when it is negative: i64::MIN (0 down
            // to i64::MIN, with a step large enough for few elements) overflowed
            // (found by the `builtins` fuzz target).
            let span = i128::from(to) - i128::from(from);
            if span <= i128::from(i64::MIN) || span > i128::from(i64::MAX) {
                return Err("the span between the bounds does not fit in 64 bits".into());
            }
            bounded_count(from, to, step)
        }
        _ => Ok(()),
    }
}

fn check_sprintf(args: &[Value]) -> Result<(), String> {
    let Some(Value::String(format)) = args.first() else {
        return Ok(()); // regorus reports the type error
    };
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.peek() {
            Some('%') => {
                chars.next();
                continue;
            }
            Some('.') => {
                chars.next();
            }
            _ => {}
        }
        let mut width: u32 = 0;
        while let Some(&d) = chars.peek() {
            if !d.is_numeric() {
                break;
            }
            let digit = d
                .to_digit(10)
                .ok_or_else(|| format!("the width `{d}` in the format is not an ASCII digit"))?;
            width = width.saturating_mul(10).saturating_add(digit);
            if width > MAX_FORMAT_WIDTH {
                return Err(format!("a width over {MAX_FORMAT_WIDTH} in the format"));
            }
            chars.next();
        }
    }
    Ok(())
}

#[cfg(feature = "time")]
fn check_no_local_zone(args: &[Value]) -> Result<(), String> {
    let local = args.iter().any(|arg| match arg {
        Value::Array(items) => matches!(items.iter().nth(1), Some(Value::String(zone)) if zone.as_ref() == "Local"),
        _ => false,
    });
    if local {
        return Err(
            "time zone \"Local\" is the host's own and differs between hosts; use \"UTC\" or an Etc/GMT zone".into(),
        );
    }
    Ok(())
}

/// How many compiled `regex.template_match` patterns a thread keeps (a policy's
/// templates are few; past this the cache starts over).
#[cfg(feature = "regex")]
const REGEX_CACHE_ENTRIES: usize = 64;

#[cfg(feature = "regex")]
thread_local! {
    /// Compiled `regex.template_match` patterns, so a request does not compile them
    /// again (regorus caches its own the same way).
    static REGEX_CACHE: RefCell<std::collections::BTreeMap<String, regex::Regex>> =
        const { RefCell::new(std::collections::BTreeMap::new()) };
}

/// How many compiled patterns regorus keeps per VM for `regex.*` and for `glob.match`
/// (its defaults are 256 and 128). The shipped policies use a handful of constant
/// patterns; the bound is what a policy that builds patterns from request data can make
/// a VM hold (each pattern's automaton is at most regorus's 100 KiB size limit, plus its
/// search caches). Past it, the least recently used pattern is compiled again when
/// next needed.
#[cfg(any(feature = "regex", feature = "glob"))]
pub const PATTERN_CACHE_ENTRIES: usize = 32;

/// Bounds regorus's compiled-pattern caches ([`PATTERN_CACHE_ENTRIES`]); every engine
/// jitgate builds calls it (a resize to the same size costs nothing).
pub(crate) fn bound_pattern_caches() {
    #[cfg(any(feature = "regex", feature = "glob"))]
    regorus::cache::configure(regorus::cache::Config {
        regex: PATTERN_CACHE_ENTRIES,
        glob: PATTERN_CACHE_ENTRIES,
    });
}

/// `pattern` compiled as regorus compiles `regex.*` patterns (its size limit), cached.
#[cfg(feature = "regex")]
fn compiled_regex(pattern: &str) -> Result<regex::Regex, String> {
    REGEX_CACHE.with(|cache| {
        let mut cache = cache.try_borrow_mut().map_err(|_| "re-entered".to_owned())?;
        if let Some(re) = cache.get(pattern) {
            return Ok(re.clone());
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|_| format!("invalid regex `{pattern}`"))?;
        if cache.len() >= REGEX_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), re.clone());
        Ok(re)
    })
}

/// `time.format(x)`: no `"Local"` zone, and a layout (`[ns, zone, layout]`) in ASCII
/// (regorus slices inside a character of any other; found by the `builtins` fuzz target).
#[cfg(feature = "time")]
fn check_time_format(args: &[Value]) -> Result<(), String> {
    check_no_local_zone(args)?;
    let layout = match args.first() {
        Some(Value::Array(items)) => items.get(2),
        _ => None,
    };
    if matches!(layout, Some(Value::String(s)) if !s.is_ascii()) {
        return Err("the layout must be ASCII".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut e = Engine::new();
        install(&mut e).unwrap();
        e
    }

    fn eval(expr: &str) -> anyhow::Result<Value> {
        let mut e = engine();
        e.add_policy("t.rego".into(), format!("package t\nx := {expr}\n"))
            .unwrap();
        e.eval_rule("data.t.x".into())
    }

    /// 2,000 characters, as Rego (a module line holds at most 1,024).
    const BIG: &str = r#"concat("", ["a" | some _ in numbers.range(1, 2000)])"#;

    #[cfg(feature = "regex")]
    #[test]
    fn regex_replace_is_bounded() {
        let big = BIG;
        // regex.replace: an empty match everywhere, or `$0` expanded for every match.
        let err = eval(&format!("regex.replace({big}, \"\", {big})"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("regex.replace: the result could be"), "{err}");
        let dollars = r#"concat("", ["$0" | some _ in numbers.range(1, 600)])"#;
        let err = eval(&format!("regex.replace({big}, \"a\", {dollars})"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("regex.replace: the result could be 3600000 bytes"),
            "{err}"
        );
        assert_eq!(
            eval(r#"regex.replace("a1b22", "[0-9]+", "<$0>")"#).unwrap(),
            Value::from("a<1>b<22>")
        );
        assert_eq!(
            eval(&format!("count(regex.replace({big}, \"a\", \"$0\"))")).unwrap(),
            Value::from(2_000u64)
        );
    }

    #[test]
    fn builtins_that_grow_their_result_are_bounded() {
        let big = BIG;
        // Growing past the bound: refused; the same sizes that do not grow: regorus's answer.
        let err = eval(&format!("replace({big}, \"\", {big})")).unwrap_err().to_string();
        assert!(err.contains("replace: the result could be 4004000 bytes"), "{err}");
        assert!(eval(&format!("replace({big}, \"a\", {big})")).is_err());
        assert_eq!(
            eval(&format!("count(replace({big}, \"a\", \"b\"))")).unwrap(),
            Value::from(2_000u64)
        );
        assert_eq!(eval(&format!("replace({big}, \"a\", \"\")")).unwrap(), Value::from(""));
        assert_eq!(eval(r#"replace("a-b-c", "-", "--")"#).unwrap(), Value::from("a--b--c"));
        assert_eq!(eval(r#"replace("ab", "", "-")"#).unwrap(), Value::from("-a-b-"));
        // strings.replace_n compounds: each pair doubles what the previous ones left.
        let pairs: Vec<String> = (b'a'..b'm')
            .map(|c| format!("\"{}\": \"{}{}\"", c as char, (c + 1) as char, (c + 1) as char))
            .collect();
        let err = eval(&format!("strings.replace_n({{{}}}, {big})", pairs.join(", ")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("strings.replace_n: the result could be"), "{err}");
        assert_eq!(
            eval(r#"strings.replace_n({"a": "b", "b": "cc"}, "ab")"#).unwrap(),
            Value::from("cccc")
        );
        // A shift up to the bound works; past it (still a 32-bit count) it is an error.
        assert_eq!(eval("bits.lsh(1, 3)").unwrap(), Value::from(8u64));
        assert!(eval(&format!("bits.lsh(1, {MAX_SHIFT_BITS})")).is_ok());
        let err = eval("bits.lsh(1, 4294967295)").unwrap_err().to_string();
        assert!(err.contains("bits.lsh: a shift of more than 4096 bits"), "{err}");
    }

    /// More distinct patterns than regorus's cache keeps: each still matches as it
    /// should, the first ones again after they were evicted.
    #[cfg(feature = "regex")]
    #[test]
    fn regex_patterns_past_the_cache_bound_still_match() {
        let n = PATTERN_CACHE_ENTRIES + 8;
        let expr = format!(
            "[m | some i in numbers.range(0, {last}); s := sprintf(\"x%dy\", [i]); \
             m := [regex.match(sprintf(\"^x%dy$\", [i]), s), regex.match(sprintf(\"^x%dy$\", [i + 1]), s)]]",
            last = n - 1
        );
        for _ in 0..2 {
            let got = eval(&expr).unwrap();
            let pairs = got.as_array().unwrap();
            assert_eq!(pairs.len(), n);
            for pair in pairs.iter() {
                assert_eq!(pair, &Value::from_json_str("[true, false]").unwrap());
            }
        }
    }

    /// The delegate engine is kept from one call to the next (prepared once): each call
    /// still sees only its own arguments, and an error leaves nothing behind.
    #[test]
    fn the_delegate_engine_serves_one_call_after_another() {
        let json = |s: &str| Value::from_json_str(s).unwrap();
        let sprintf = |format: &str, args: &str| call("sprintf", vec![Value::from(format), json(args)]);
        assert_eq!(sprintf("%d-%s", r#"[1, "a"]"#).unwrap(), Value::from("1-a"));
        assert_eq!(sprintf("%s", r#"["b"]"#).unwrap(), Value::from("b"));
        assert!(call("numbers.range_step", vec![json("1"), json("3"), json("0")]).is_err());
        #[cfg(feature = "time")]
        assert!(call("time.parse_duration_ns", vec![Value::from("soon")]).is_err());
        assert_eq!(
            call("numbers.range", vec![json("1"), json("3")]).unwrap(),
            json("[1,2,3]")
        );
        assert_eq!(sprintf("%d-%s", r#"[2, "c"]"#).unwrap(), Value::from("2-c"));
        DELEGATE.with(|slot| assert!(slot.borrow().is_some(), "the delegate engine is kept"));
    }

    #[test]
    fn checked_builtins_still_give_regorus_results() {
        assert_eq!(
            eval("numbers.range(1, 3)").unwrap(),
            Value::from_json_str("[1,2,3]").unwrap()
        );
        assert_eq!(
            eval("numbers.range(3, 1)").unwrap(),
            Value::from_json_str("[3,2,1]").unwrap()
        );
        assert_eq!(
            eval("numbers.range_step(0, 10, 5)").unwrap(),
            Value::from_json_str("[0,5,10]").unwrap()
        );
        assert_eq!(
            eval(r#"sprintf("%s=%05d", ["a", 42])"#).unwrap(),
            Value::from("a=00042")
        );
        assert_eq!(eval(r#"sprintf("%.2f%%", [1.5])"#).unwrap(), Value::from("1.50%"));
        assert_eq!(eval(r#"strings.count("banana", "a")"#).unwrap(), Value::from(3_u64));
        assert_eq!(eval(r#"strings.count("äb", "")"#).unwrap(), Value::from(3_u64));
        for (expr, want) in [
            ("object.subset([1, 2, 3], [])", true),
            ("object.subset([1, 2, 3], [2, 3])", true),
            ("object.subset([1, 2, 3], [3, 2])", false),
            (r#"object.subset({"a": [1, 2], "b": 1}, {"a": []})"#, true),
            (r#"object.subset({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}})"#, true),
            (r#"object.subset({"a": 1}, {"a": 2})"#, false),
            ("object.subset({1, 2}, {2})", true),
            ("object.subset([1, 2], {2})", true),
        ] {
            assert_eq!(eval(expr).unwrap(), Value::Bool(want), "{expr}");
        }
    }

    /// regorus without jitgate's extensions.
    #[cfg(feature = "regex")]
    fn eval_plain(expr: &str) -> anyhow::Result<Value> {
        let mut e = Engine::new();
        e.add_policy("t.rego".into(), format!("package t\nx := {expr}\n"))?;
        e.eval_rule("data.t.x".into())
    }

    #[test]
    #[cfg(feature = "regex")]
    fn template_match_agrees_with_regorus_and_answers_where_regorus_panics() {
        // Where regorus answers, jitgate's version gives the same answer.
        for expr in [
            r#"regex.template_match("urn:foo:{.*}", "urn:foo:bar:baz", "{", "}")"#,
            r#"regex.template_match("urn:foo.bar.com:{.*}", "urn:foo.bar.com:bar:baz", "{", "}")"#,
            r#"regex.template_match("{[a-z]+}-x", "abc-x", "{", "}")"#,
            r#"regex.template_match("{[a-z]+}-x", "abc-y", "{", "}")"#,
            r#"regex.template_match("a<[0-9]+>b<[a-z]+>", "a12bcd", "<", ">")"#,
            r#"regex.template_match("a<[0-9]+>b", "a12c", "<", ">")"#,
            r#"regex.template_match("x}y{z", "x}y{z", "{", "}")"#,
            r#"regex.template_match("plain", "plain", "{", "}")"#,
            r#"regex.template_match("é{.}", "éa", "{", "}")"#,
        ] {
            assert_eq!(eval(expr).unwrap(), eval_plain(expr).unwrap(), "{expr}");
        }
        // Where regorus panics (found by the `builtins` fuzz target): answers.
        for (expr, want) in [
            (r#"regex.template_match("urn:foo:{.*}", "urn", "{", "}")"#, Some(false)),
            (r#"regex.template_match("éé{.}", "é", "{", "}")"#, Some(false)),
            (r#"regex.template_match("a{}b", "a", "{}", "}")"#, None),
        ] {
            match want {
                Some(b) => assert_eq!(eval(expr).unwrap(), Value::Bool(b), "{expr}"),
                None => assert!(eval(expr).is_err(), "{expr}"),
            }
        }
    }

    #[test]
    fn inputs_that_panicked_regorus_are_errors() {
        for expr in [
            "numbers.range(1, 9223372036854775807)",
            "numbers.range(-9223372036854775808, 9223372036854775807)",
            "numbers.range_step(1, 10, 0)",
            "numbers.range_step(1, 10, -1)",
            "numbers.range_step(0, 9223372036854775807, 1)",
            "numbers.range_step(0, -9223372036854775808, 29674918609317733)",
            "numbers.range_step(9223372036854775807, -1, 4611686018427387904)",
            "numbers.range_step(0, 10, 0.5)",
            r#"sprintf("%99999999999d", [1])"#,
            r#"sprintf("%2000s", ["x"])"#,
            r#"sprintf("%.5000f", [1])"#,
            "sprintf(\"%\u{0663}d\", [1])",  // ARABIC-INDIC DIGIT THREE
            "sprintf(\"%1\u{00b2}d\", [1])", // SUPERSCRIPT TWO
            "numbers.range(18446744073709551615, 9223372036854775807)",
            "time.parse_ns(\"\u{0663}\u{0664}\", \"\u{ff21}\")",
            "time.parse_duration_ns(\"1\u{e9}\")",
            // No unit after the number: regorus sliced past the end (patch 9).
            "time.parse_duration_ns(\"10\")",
            "time.parse_duration_ns(\"1.\")",
            "time.parse_duration_ns(\"1h10\")",
            "time.format([0, \"UTC\", \"\u{e9}\"])",
            "time.format([0, \"UTC\", \"2006 \u{2014} 01\"])",
        ] {
            assert!(eval(expr).is_err(), "{expr}");
        }
        #[cfg(feature = "time")]
        for (duration, ns) in [("1h10m", 4_200_000_000_000u64), ("1.5s", 1_500_000_000), ("0", 0)] {
            let expr = format!("time.parse_duration_ns(\"{duration}\")");
            assert_eq!(eval(&expr).unwrap(), Value::from(ns), "{expr}");
        }
    }

    #[test]
    #[cfg(feature = "time")]
    fn the_local_zone_is_refused_however_it_is_spelled() {
        let mut e = engine();
        e.add_policy(
            "t.rego".into(),
            "package t\nzone := concat(\"\", [\"Lo\", \"cal\"])\na := time.clock([0, \"Loc\\u0061l\"])\nb := time.weekday([0, zone])\nc := time.format([0, data.z])\nd := time.clock([0, \"UTC\"])\n"
                .into(),
        )
        .unwrap();
        e.add_data(Value::from_json_str(r#"{"z": "Local"}"#).unwrap()).unwrap();
        for rule in ["a", "b", "c"] {
            let err = e.eval_rule(format!("data.t.{rule}")).unwrap_err();
            assert!(err.to_string().contains("Local"), "{rule}: {err}");
        }
        assert_eq!(
            e.eval_rule("data.t.d".into()).unwrap(),
            Value::from_json_str("[0,0,0]").unwrap()
        );
    }

    #[test]
    fn rand_intn_is_refused() {
        assert!(eval("rand.intn(\"x\", 10)").is_err());
    }
}
