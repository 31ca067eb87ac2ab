//! Live trust from the command line: `jitgate token revocations|status-list|key-set
//! sign|inspect` make and read the documents, `jitgate eval --revocations --keys
//! --status-list` installs them before deciding, and every refusal names the file and
//! the gate's reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

const ISSUER: &str = "https://approvals.example.com";
const LIST: &str = "https://approvals.example.com/v1/status-lists/0";
const T0: &str = "2026-11-26T10:00:00Z";
const AT: &str = "2026-11-26T10:00:30Z";

fn jitgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jitgate")).args(args).output().unwrap()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn demo_key() -> String {
    repo().join("deploy/demo-key.private.jwk").display().to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jitgate-cli-feed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Writes `text` to `name` atomically (tests run in parallel and share file names such
/// as `request.json`: a reader never sees a half-written file).
fn write(name: &str, text: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = tmp(name);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = tmp(&format!(".{name}.{n}.partial"));
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path.display().to_string()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn ok_json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// Exit 2 with a message on stderr containing every one of `needles`.
fn usage_error(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout {}\nstderr {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    for n in needles {
        assert!(stderr.contains(n), "`{n}` not in: {stderr}");
    }
}

/// `jitgate token <what> sign …` with the demo key; the document, written to `name`.
fn sign(name: &str, what: &str, args: &[&str]) -> String {
    let key = demo_key();
    let mut all = vec!["token", what, "sign", "--key", key.as_str(), "--iss", ISSUER];
    all.extend_from_slice(args);
    let doc = ok(&jitgate(&all));
    write(name, &doc)
}

fn revocations(name: &str, seq: &str, revoked: &[&str]) -> String {
    let mut args = vec!["--seq", seq, "--issued-at", T0];
    for r in revoked {
        args.extend_from_slice(&["--revoked", r]);
    }
    sign(name, "revocations", &args)
}

fn status_list(name: &str, revoked: &[&str]) -> String {
    let mut args = vec!["--uri", LIST, "--issued-at", T0, "--size", "64"];
    for r in revoked {
        args.extend_from_slice(&["--revoked", r]);
    }
    sign(name, "status-list", &args)
}

/// The example configuration with a `feed` for its issuer (merged with `feed`).
fn feed_config(name: &str, feed: Value) -> String {
    let text = std::fs::read_to_string(repo().join("policies/config.example.json")).unwrap();
    let mut config: Value = serde_json::from_str(&text).unwrap();
    let mut f = json!({"cluster": "approvals", "jwks_path": "/v1/jwks", "status_lists": {LIST: "/v1/status-lists/0"}});
    for (k, v) in feed.as_object().unwrap() {
        f[k] = v.clone();
    }
    config["issuers"][0]["feed"] = f;
    write(name, &config.to_string())
}

/// An approval token signed with `key` (default: the demo key), with `extra` claims.
fn token(jti: &str, key: Option<&str>, extra: Value) -> String {
    let mut claims = json!({"jit": {"resource": "test-database", "role": "developer"}});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let claims = write(&format!("claims-{jti}.json"), &claims.to_string());
    let key = key.map_or_else(demo_key, str::to_owned);
    ok(&jitgate(&[
        "token",
        "sign",
        "--key",
        &key,
        "--claims",
        &claims,
        "--iss",
        ISSUER,
        "--sub",
        "alice@example.com",
        "--aud",
        "db-gateway",
        "--not-before",
        T0,
        "--ttl",
        "1h",
        "--jti",
        jti,
    ]))
    .trim()
    .to_owned()
}

fn request() -> String {
    write(
        "request.json",
        &json!({"method": "GET", "path": "/orders", "headers": {"host": "db.internal"}}).to_string(),
    )
}

fn eval(config: &str, token: &str, now: &str, feed: &[&str]) -> Output {
    let request = request();
    let mut args = vec![
        "eval",
        "--config",
        config,
        "--request",
        request.as_str(),
        "--token",
        token,
        "--now",
        now,
        "--compact",
    ];
    args.extend_from_slice(feed);
    jitgate(&args)
}

fn reason(out: &Output) -> String {
    ok_json(out)["reason"].as_str().unwrap().to_owned()
}

fn status_ref(idx: u64) -> Value {
    json!({"status": {"status_list": {"idx": idx, "uri": LIST}}})
}

#[test]
fn eval_installs_revocation_and_status_lists_before_deciding() {
    let config = feed_config("config.json", json!({}));
    let plain = token("appr-feed-1", None, json!({}));
    let listed = token("appr-feed-2", None, status_ref(5));
    let empty = revocations("rev-empty.jwt", "1", &[]);
    let revoked = revocations("rev-1.jwt", "2", &["appr-feed-1"]);
    let list_ok = status_list("list-ok.jwt", &[]);
    let list_5 = status_list("list-5.jwt", &["5"]);
    let sl = |file: &str| format!("{LIST}={file}");

    // Nothing installed: the issuer's revocation knowledge is stale; a status list the
    // feed names but that has not been installed is stale knowledge too.
    assert_eq!(reason(&eval(&config, &plain, AT, &[])), "revocations_stale");
    assert_eq!(
        reason(&eval(&config, &listed, AT, &["--revocations", &empty])),
        "revocations_stale"
    );
    // A token naming a list no feed names is a status the gate cannot know.
    let foreign = token(
        "appr-feed-3",
        None,
        json!({"status": {"status_list": {"idx": 0, "uri": "https://elsewhere/0"}}}),
    );
    assert_eq!(
        reason(&eval(&config, &foreign, AT, &["--revocations", &empty])),
        "token_status_unknown"
    );

    let d = ok_json(&eval(&config, &plain, AT, &["--revocations", &empty]));
    assert_eq!(d["reason"], "allowed");
    assert_eq!(
        d["feed"],
        json!([{"kind": "revocations", "issuer": ISSUER, "seq": 1, "issued_at": 1_795_687_200_u64,
                "expires": 1_795_690_800_u64, "entries": 0, "changed": true, "file": empty}])
    );
    let d = ok_json(&eval(&config, &plain, AT, &["--revocations", &revoked]));
    assert_eq!(
        (d["status"].clone(), d["reason"].clone()),
        (json!(401), json!("token_revoked"))
    );
    assert_eq!(d["feed"][0]["entries"], 1);

    let both = |list: &str| {
        eval(
            &config,
            &listed,
            AT,
            &["--revocations", &empty, "--status-list", &sl(list)],
        )
    };
    let d = ok_json(&both(&list_ok));
    assert_eq!(d["reason"], "allowed");
    assert_eq!(d["feed"][1]["kind"], "status_list");
    assert_eq!(d["feed"][1]["uri"], LIST);
    assert_eq!(d["feed"][1]["entries"], 64);
    assert_eq!(reason(&both(&list_5)), "token_revoked");

    // Staleness counts from --fetched-at: 61 s after it (max_stale_s 60) the gate fails closed.
    let stale = ["--revocations", empty.as_str(), "--fetched-at", T0];
    assert_eq!(
        reason(&eval(&config, &plain, "2026-11-26T10:01:00Z", &stale)),
        "allowed"
    );
    let d = ok_json(&eval(&config, &plain, "2026-11-26T10:01:01Z", &stale));
    assert_eq!(
        (d["status"].clone(), d["reason"].clone()),
        (json!(401), json!("revocations_stale"))
    );
    // …unless the issuer's feed says on_stale: allow (counted).
    let lenient = feed_config("config-lenient.json", json!({"on_stale": "allow"}));
    let d = ok_json(&eval(&lenient, &plain, "2026-11-26T10:01:01Z", &stale));
    assert_eq!(d["reason"], "allowed");
}

#[test]
fn eval_installs_a_signed_key_set_for_a_rotation() {
    let config = feed_config("config-keys.json", json!({}));
    let new_key = tmp("k2.private.jwk");
    let _ = std::fs::remove_file(&new_key);
    let new_key = new_key.display().to_string();
    ok(&jitgate(&["token", "keygen", "--kid", "k2", "--out", &new_key]));
    let rotated = token("appr-k2", Some(&new_key), json!({}));
    let empty = revocations("rev-keys.jwt", "1", &[]);
    // The demo key announces a set of itself and k2.
    let keys = sign(
        "keys.jwt",
        "key-set",
        &["--add", &demo_key(), "--add", &new_key, "--issued-at", T0],
    );
    assert_eq!(
        reason(&eval(&config, &rotated, AT, &["--revocations", &empty])),
        "token_key_unknown"
    );
    let d = ok_json(&eval(
        &config,
        &rotated,
        AT,
        &["--keys", &keys, "--revocations", &empty],
    ));
    assert_eq!(d["reason"], "allowed", "{d}");
    assert_eq!(d["feed"][0]["kind"], "keys");
    assert_eq!(d["feed"][0]["entries"], 2);
    // Documents signed by the new key install once the key set brought it (keys first).
    let key = new_key.as_str();
    let by_k2 = ok(&jitgate(&[
        "token",
        "revocations",
        "sign",
        "--key",
        key,
        "--iss",
        ISSUER,
        "--seq",
        "2",
        "--issued-at",
        T0,
    ]));
    let by_k2 = write("rev-by-k2.jwt", &by_k2);
    assert_eq!(
        reason(&eval(
            &config,
            &rotated,
            AT,
            &["--revocations", &by_k2, "--keys", &keys]
        )),
        "allowed"
    );
    usage_error(
        &eval(&config, &rotated, AT, &["--revocations", &by_k2]),
        &["--revocations", "rev-by-k2.jwt", "key_unknown", "k2"],
    );
    // A plain JWKS is taken only where the feed says unsigned_jwks.
    let claims = ok_json(&jitgate(&["token", "key-set", "inspect", &format!("@{keys}")]))["claims"].clone();
    let jwks = write("plain.jwks.json", &json!({"keys": claims["keys"]}).to_string());
    usage_error(
        &eval(&config, &rotated, AT, &["--keys", &jwks, "--revocations", &empty]),
        &["--keys", "plain.jwks.json", "(unsigned)", "unsigned_jwks"],
    );
    let unsigned = feed_config("config-unsigned.json", json!({"unsigned_jwks": true}));
    assert_eq!(
        reason(&eval(
            &unsigned,
            &rotated,
            AT,
            &["--keys", &jwks, "--revocations", &empty]
        )),
        "allowed"
    );
}

#[test]
fn feed_errors_name_the_file_and_the_refusal() {
    let config = feed_config("config-errors.json", json!({}));
    let t = token("appr-err", None, json!({}));
    let two = revocations("rev-two.jwt", "2", &[]);
    let one = revocations("rev-one.jwt", "1", &[]);
    // Installed in the order given: seq 1 after seq 2 is a rollback.
    usage_error(
        &eval(&config, &t, AT, &["--revocations", &two, "--revocations", &one]),
        &["--revocations", "rev-one.jwt", ISSUER, "(rollback)", "seq 1"],
    );
    // Expired at the fetch time.
    usage_error(
        &eval(&config, &t, "2026-11-26T12:00:00Z", &["--revocations", &one]),
        &["rev-one.jwt", "(expired)"],
    );
    // The wrong kind of document.
    let list = status_list("list-err.jwt", &[]);
    usage_error(
        &eval(&config, &t, AT, &["--revocations", &list]),
        &["list-err.jwt", "(type)", "statuslist+jwt"],
    );
    // A forged list: the demo kid, another key.
    let forger = tmp("forger.private.jwk");
    let _ = std::fs::remove_file(&forger);
    let forger = forger.display().to_string();
    ok(&jitgate(&["token", "keygen", "--kid", "demo-2026", "--out", &forger]));
    let forged = ok(&jitgate(&[
        "token",
        "revocations",
        "sign",
        "--key",
        &forger,
        "--iss",
        ISSUER,
        "--seq",
        "9",
        "--issued-at",
        T0,
    ]));
    let forged = write("rev-forged.jwt", &forged);
    usage_error(
        &eval(&config, &t, AT, &["--revocations", &forged]),
        &["rev-forged.jwt", "(signature)"],
    );
    // Files and flags.
    usage_error(
        &eval(&config, &t, AT, &["--revocations", "/nonexistent/rev.jwt"]),
        &["--revocations", "/nonexistent/rev.jwt"],
    );
    usage_error(
        &eval(
            &config,
            &t,
            AT,
            &["--status-list", &format!("https://elsewhere/0={list}")],
        ),
        &["--status-list", "https://elsewhere/0", "feed.status_lists"],
    );
    usage_error(
        &eval(&config, &t, AT, &["--status-list", "no-equals-sign"]),
        &["URI=FILE"],
    );
    usage_error(
        &eval(&config, &t, AT, &["--revocations", &one, "--fetched-at", "yesterday"]),
        &["--fetched-at", "yesterday"],
    );
    let no_feed = repo().join("policies/config.example.json").display().to_string();
    usage_error(
        &eval(&no_feed, &t, AT, &["--revocations", &one]),
        &["config.example.json", "feed"],
    );
}

#[test]
fn documents_sign_and_inspect() {
    let config = feed_config("config-inspect.json", json!({}));
    let rev = revocations("rev-inspect.jwt", "7", &["appr-a", "appr-b"]);
    let ids = write("ids.txt", "# revoked today\nappr-c\n\nappr-d\n");
    let more = sign(
        "rev-more.jwt",
        "revocations",
        &[
            "--seq",
            "8",
            "--revoked",
            "appr-a",
            "--revoked-file",
            &ids,
            "--issued-at",
            T0,
            "--ttl",
            "15m",
        ],
    );
    let doc = ok_json(&jitgate(&["token", "revocations", "inspect", &format!("@{more}")]));
    assert_eq!(doc["header"]["typ"], "jit-revocations+jwt");
    assert_eq!(doc["header"]["kid"], "demo-2026");
    assert_eq!(doc["claims"]["revoked"], json!(["appr-a", "appr-c", "appr-d"]));
    assert_eq!(doc["times"], json!({"iat": T0, "exp": "2026-11-26T10:15:00Z"}));
    assert_eq!(doc["summary"], json!({"seq": 8, "revoked": 3}));
    assert!(doc["warning"].as_str().unwrap().starts_with("UNVERIFIED"));

    // With --config a fresh gate installs it, exactly as a gate would.
    let v = ok_json(&jitgate(&[
        "token",
        "revocations",
        "inspect",
        &format!("@{rev}"),
        "--config",
        &config,
        "--now",
        AT,
    ]));
    assert_eq!(v["verified"]["accepted"], true);
    assert_eq!(v["verified"]["state"]["seq"], 7);
    assert!(v.get("warning").is_none());
    let late = jitgate(&[
        "token",
        "revocations",
        "inspect",
        &format!("@{rev}"),
        "--config",
        &config,
        "--now",
        "2026-11-27T00:00:00Z",
    ]);
    assert_eq!(late.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(
        (v["verified"]["accepted"].clone(), v["verified"]["code"].clone()),
        (json!(false), json!("expired"))
    );

    // A status list with 2-bit entries: the entries that are not VALID.
    let list = sign(
        "list-inspect.jwt",
        "status-list",
        &[
            "--uri",
            LIST,
            "--bits",
            "2",
            "--size",
            "100",
            "--revoked",
            "3",
            "--status",
            "70=2",
            "--cache-ttl",
            "30",
            "--issued-at",
            T0,
        ],
    );
    let doc = ok_json(&jitgate(&[
        "token",
        "status-list",
        "inspect",
        &format!("@{list}"),
        "--config",
        &config,
        "--now",
        AT,
    ]));
    assert_eq!(doc["claims"]["sub"], LIST);
    assert_eq!(doc["claims"]["ttl"], 30);
    assert_eq!(doc["summary"]["bits"], 2);
    assert_eq!(doc["summary"]["entries"], 100);
    assert_eq!(doc["summary"]["by_status"], json!({"0x01": 1, "0x02": 1}));
    assert_eq!(
        doc["summary"]["not_valid_entries"],
        json!([{"idx": 3, "status": 1}, {"idx": 70, "status": 2}])
    );
    assert_eq!(doc["verified"]["accepted"], true);

    // Key sets name their keys.
    let keys = sign(
        "keys-inspect.jwt",
        "key-set",
        &["--add", &demo_key(), "--issued-at", T0],
    );
    let doc = ok_json(&jitgate(&[
        "token",
        "key-set",
        "inspect",
        &format!("@{keys}"),
        "--config",
        &config,
        "--now",
        AT,
    ]));
    assert_eq!(doc["summary"]["kids"], json!(["demo-2026"]));
    assert_eq!(doc["verified"]["state"]["entries"], 1);

    // Bad input: the flag is named, exit 2.
    let key = demo_key();
    let base = ["token", "revocations", "sign", "--key", key.as_str()];
    usage_error(&jitgate(&[&base[..], &["--iss", ISSUER]].concat()), &["--seq"]);
    usage_error(&jitgate(&[&base[..], &["--seq", "1"]].concat()), &["--iss"]);
    usage_error(
        &jitgate(&[&base[..], &["--iss", ISSUER, "--seq", "1", "--ttl", "0"]].concat()),
        &["--ttl"],
    );
    usage_error(
        &jitgate(
            &[
                &base[..],
                &["--iss", ISSUER, "--seq", "1", "--revoked-file", "/nonexistent"],
            ]
            .concat(),
        ),
        &["--revoked-file", "/nonexistent"],
    );
    let sl = [
        "token",
        "status-list",
        "sign",
        "--key",
        key.as_str(),
        "--iss",
        ISSUER,
        "--uri",
        LIST,
    ];
    usage_error(&jitgate(&[&sl[..], &["--bits", "3"]].concat()), &["--bits 3"]);
    usage_error(
        &jitgate(&[&sl[..], &["--size", "8", "--revoked", "8"]].concat()),
        &["--revoked 8", "--size 8"],
    );
    usage_error(
        &jitgate(&[&sl[..], &["--status", "1=2"]].concat()),
        &["--status 1=2", "1 bits"],
    );
    let private_set = write(
        "private.jwks.json",
        &json!({"keys": [serde_json::from_str::<Value>(&std::fs::read_to_string(&key).unwrap()).unwrap()]}).to_string(),
    );
    usage_error(
        &jitgate(&[
            "token",
            "key-set",
            "sign",
            "--key",
            &key,
            "--iss",
            ISSUER,
            "--jwks",
            &private_set,
        ]),
        &["private part"],
    );
    usage_error(
        &jitgate(&["token", "key-set", "sign", "--key", &key, "--iss", ISSUER]),
        &["no keys"],
    );
    // Inspect of something that is no document: exit 1, said so.
    let out = jitgate(&["token", "revocations", "inspect", "not-a-jws"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed"));
}

#[test]
fn run_refuses_documents_the_filter_cannot_be_served() {
    // No key-set path to serve --keys at.
    let config = feed_config("config-run.json", json!({}));
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    value["issuers"][0]["feed"].as_object_mut().unwrap().remove("jwks_path");
    let config = write("config-run-nojwks.json", &value.to_string());
    let keys = sign("keys-run.jwt", "key-set", &["--add", &demo_key(), "--issued-at", T0]);
    let request = request();
    // Checked before the filter is even loaded.
    let out = jitgate(&[
        "run",
        "--filter",
        "/nonexistent/jitgate_filter.wasm",
        "--config",
        &config,
        "--request",
        &request,
        "--now",
        AT,
        "--keys",
        &keys,
    ]);
    usage_error(&out, &["--keys", "keys-run.jwt", "jwks_path"]);
}

/// The whole loop through the filter: `run` answers the filter's own feed fetches with
/// the files.
#[test]
fn run_serves_the_documents_as_the_feed_cluster() {
    let config = feed_config("config-run-loop.json", json!({}));
    let plain = token("appr-run-1", None, json!({}));
    let empty = revocations("rev-run-empty.jwt", "1", &[]);
    let revoked = revocations("rev-run-1.jwt", "2", &["appr-run-1"]);
    let request = request();
    let filter = jitgate_testkit::filter_wasm().display().to_string();
    let run = |rev: &str| {
        ok_json(&jitgate(&[
            "run",
            "--filter",
            &filter,
            "--config",
            &config,
            "--request",
            &request,
            "--token",
            &plain,
            "--now",
            AT,
            "--revocations",
            rev,
            "--compact",
        ]))
    };
    let d = run(&empty);
    assert_eq!(d["action"], "forwarded", "{d}");
    assert_eq!(d["feed"][0]["path"], "/v1/revocations");
    assert!(d["feed"][0]["fetches"].as_u64().unwrap() >= 1);
    let d = run(&revoked);
    assert_eq!(d["audit"]["reason"], "token_revoked", "{d}");

    // A status list and a rotated key set, fetched by the filter too.
    let new_key = tmp("k3.private.jwk");
    let _ = std::fs::remove_file(&new_key);
    let new_key = new_key.display().to_string();
    ok(&jitgate(&["token", "keygen", "--kid", "k3", "--out", &new_key]));
    let keys = sign(
        "keys-run-loop.jwt",
        "key-set",
        &["--add", &demo_key(), "--add", &new_key, "--issued-at", T0],
    );
    let listed = token("appr-run-2", Some(&new_key), status_ref(9));
    let list = format!("{LIST}={}", status_list("list-run-9.jwt", &["9"]));
    let args = |extra: &[&str]| {
        let mut a = vec![
            "run",
            "--filter",
            &filter,
            "--config",
            &config,
            "--request",
            &request,
            "--token",
            &listed,
            "--now",
            AT,
            "--revocations",
            &empty,
            "--compact",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>()
    };
    let call = |extra: &[&str]| {
        let a = args(extra);
        ok_json(&jitgate(&a.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    assert_eq!(call(&[])["audit"]["reason"], "token_key_unknown");
    let d = call(&["--keys", &keys, "--status-list", &list]);
    assert_eq!(d["audit"]["reason"], "token_revoked", "{d}");
    let paths: Vec<&str> = d["feed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/v1/jwks", "/v1/revocations", "/v1/status-lists/0"]);
    let ok_list = format!("{LIST}={}", status_list("list-run-ok.jwt", &[]));
    assert_eq!(
        call(&["--keys", &keys, "--status-list", &ok_list])["action"],
        "forwarded"
    );
}

#[test]
fn with_several_feeds_the_documents_iss_chooses_the_issuer() {
    const OTHER: &str = "https://other.example.com";
    let one = feed_config("config-two-a.json", json!({}));
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(&one).unwrap()).unwrap();
    let mut second = config["issuers"][0].clone();
    second["issuer"] = json!(OTHER);
    second["feed"]["status_lists"] = json!({"https://other.example.com/v1/status-lists/0": "/v1/status-lists/0"});
    config["issuers"].as_array_mut().unwrap().push(second);
    let config = write("config-two.json", &config.to_string());
    let key = demo_key();
    let sign_for = |name: &str, iss: &str| {
        let doc = ok(&jitgate(&[
            "token",
            "revocations",
            "sign",
            "--key",
            &key,
            "--iss",
            iss,
            "--seq",
            "3",
            "--issued-at",
            T0,
        ]));
        write(name, &doc)
    };
    let for_other = sign_for("rev-other.jwt", OTHER);
    let for_first = revocations("rev-first.jwt", "1", &[]);
    let t = token("appr-two", None, json!({}));
    let d = ok_json(&eval(
        &config,
        &t,
        AT,
        &["--revocations", &for_other, "--revocations", &for_first],
    ));
    assert_eq!(d["reason"], "allowed", "{d}");
    assert_eq!(d["feed"][0]["issuer"], OTHER);
    assert_eq!(d["feed"][1]["issuer"], ISSUER);
    // Only the other issuer's list: the first issuer's approvals have none.
    assert_eq!(
        reason(&eval(&config, &t, AT, &["--revocations", &for_other])),
        "revocations_stale"
    );
    let stranger = sign_for("rev-stranger.jwt", "https://stranger.example.com");
    usage_error(
        &eval(&config, &t, AT, &["--revocations", &stranger]),
        &[
            "rev-stranger.jwt",
            "https://stranger.example.com",
            "none of the issuers",
            OTHER,
        ],
    );
    let jwks = write("two.jwks.json", &json!({"keys": []}).to_string());
    usage_error(
        &eval(&config, &t, AT, &["--keys", &jwks]),
        &["two.jwks.json", "has no `iss`", "cannot tell"],
    );
    // A status list belongs to the issuer whose feed names its URI.
    let list = sign(
        "list-other.jwt",
        "status-list",
        &[
            "--uri",
            "https://other.example.com/v1/status-lists/0",
            "--issued-at",
            T0,
        ],
    );
    usage_error(
        &eval(
            &config,
            &t,
            AT,
            &[
                "--status-list",
                &format!("https://other.example.com/v1/status-lists/0={list}"),
            ],
        ),
        &["list-other.jwt", OTHER, "(issuer)"],
    );
}
