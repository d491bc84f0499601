//! The on-disk kernel cache: a kernel compiled once is loaded, not compiled, by the next
//! compile and the next process, and behaves exactly as the compiled one; any change of build,
//! version or CPU features is a miss; a corrupt, truncated or foreign file is ignored and
//! rewritten; a directory that cannot be used costs nothing but the cache; concurrent writers
//! are safe; `FASTITER_CACHE=0` and `fastc cache info|clear` do what they say.
//!
//! Each test has a directory of its own (the cargo config turns the cache off for every other
//! test, and for the `fastc` processes here unless a test turns it back on).

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Barrier};

use fastiter::cache::{Limits, Store};
use fastiter::codegen::cache::{self as kcache, KeyParts};
use fastiter::codegen::{compile_cached, host_key_parts};
use fastiter::ir::{ParamInfo, Pipeline, Type};
use fastiter::{CodegenOptions, ExecError, Kernel, RunOptions, Value};

/// Pipelines that reach every kind of code a kernel holds: helper calls (libm, the builtin
/// table), inline float `%`, tagged numbers, statements and loops, early exits, collect,
/// exceptions, a parameter.
const PIPELINES: &[&str] = &[
    "range(0, N).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()",
    "range(0, N).map(x * 3 + 1).filter(x % 7 != 0).map(math.sqrt(x)).filter(x > 10.0).map(math.sin(x) * math.log(x + 1.0) + abs(x)).sum()",
    "range(1, N).map(math.gcd(x, 360) + math.comb(x % 30, 3)).sum()",
    "range(N).map(x / 7 % 1.5).max()",
    "range(N).map(x if x % 3 else x * 0.5).sum()",
    "def f(n):\n    t = 0\n    for i in range(n % 17):\n        if i % 5 == 3:\n            continue\n        t += i * i\n    return t\nrange(N).map(f).sum()",
    "range(N).map(x * x).collect()",
    "range(N).any(x * x > 2000)",
    "range(N).map(100 // (x - 40)).sum()",
    "range(N).map(x ** 3).reduce(0, lambda a, b: a ^ b)",
];

fn params() -> Vec<ParamInfo> {
    vec![ParamInfo {
        name: "N".into(),
        ty: Type::Int,
    }]
}

/// The optimised IR (the front end runs as always; only codegen meets the cache).
fn front(src: &str) -> Pipeline {
    fastiter::compile(src, &params(), false, CodegenOptions::default())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .pipeline
}

fn kernel(p: &Pipeline, store: Option<&Store>, parts: &KeyParts) -> Kernel {
    compile_cached(p, CodegenOptions::default(), store, parts).expect("compiles")
}

fn run(p: &Pipeline, k: Option<&Kernel>, n: i64, threads: usize) -> Result<Value, ExecError> {
    let opts = RunOptions {
        threads,
        jit: k.is_some(),
        cancel: None,
    };
    fastiter::exec::run(p, k, &[Value::Int(n.into())], None, &opts).map(|(v, _)| v)
}

fn show(r: &Result<Value, ExecError>) -> String {
    match r {
        Ok(v) => v.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

fn host() -> &'static KeyParts {
    host_key_parts().expect("host ISA")
}

fn entry_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|l| {
            l.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_cached_kernel_is_loaded_and_gives_the_compiled_kernels_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().to_path_buf());
    for src in PIPELINES {
        let p = front(src);
        let fresh = kernel(&p, Some(&store), host());
        assert!(!fresh.from_cache, "{src}: an empty cache cannot hit");
        let cached = kernel(&p, Some(&store), host());
        assert!(cached.from_cache, "{src}: the second compile must load");
        drop(fresh);
        for n in [0, 1, 7, 100, 1000, 20_011] {
            let want = show(&run(&p, None, n, 1));
            for threads in [1, 2] {
                let got = show(&run(&p, Some(&cached), n, threads));
                assert_eq!(got, want, "{src} at N = {n}, {threads} thread(s)");
            }
        }
    }
    assert_eq!(store.usage().entries, PIPELINES.len());
}

#[test]
fn emit_clif_and_asm_always_compile() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().to_path_buf());
    let p = front(PIPELINES[0]);
    kernel(&p, Some(&store), host());
    let opts = CodegenOptions {
        clif: true,
        ..CodegenOptions::default()
    };
    let k = compile_cached(&p, opts, Some(&store), host()).unwrap();
    assert!(!k.from_cache && k.clif.is_some());
    let opts = CodegenOptions {
        no_cache: true,
        ..CodegenOptions::default()
    };
    let k = compile_cached(&p, opts, Some(&store), host()).unwrap();
    assert!(!k.from_cache);
}

#[test]
fn any_other_version_build_target_or_cpu_features_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().to_path_buf());
    let p = front(PIPELINES[1]);
    let mine = host().clone();
    kernel(&p, Some(&store), &mine);
    let others = [
        KeyParts {
            version: "0.0.0-other".into(),
            ..mine.clone()
        },
        KeyParts {
            build: format!("{} (another build)", mine.build),
            ..mine.clone()
        },
        KeyParts {
            target: "aarch64-unknown-linux-gnu".into(),
            ..mine.clone()
        },
        KeyParts {
            features: mine.features.replace("has_avx2=1", "has_avx2=0") + " changed",
            ..mine.clone()
        },
    ];
    for (i, parts) in others.iter().enumerate() {
        let k = kernel(&p, Some(&store), parts);
        assert!(!k.from_cache, "{parts:?}");
        assert_eq!(store.usage().entries, i + 2, "each key has its own entry");
        assert!(kernel(&p, Some(&store), parts).from_cache);
    }
    assert!(kernel(&p, Some(&store), &mine).from_cache);
    // The pipeline is part of the key too: a parameter of another type is another kernel.
    let float = fastiter::compile(
        PIPELINES[1]
            .replace("range(0, N)", "range(0, int(N))")
            .as_str(),
        &[ParamInfo {
            name: "N".into(),
            ty: Type::Float,
        }],
        false,
        CodegenOptions::default(),
    )
    .unwrap()
    .pipeline;
    assert!(!kernel(&float, Some(&store), &mine).from_cache);
}

/// Overwrite the entry of `p` with `bytes`, then check: the compile ignores it (a miss, the
/// right answer), rewrites it, and the next compile loads the rewritten entry.
fn check_ignored(store: &Store, p: &Pipeline, what: &str, bytes: &[u8]) {
    let key = kcache::key(host(), p);
    let path = store.path_for(&key);
    std::fs::write(&path, bytes).unwrap();
    let k = kernel(p, Some(store), host());
    assert!(!k.from_cache, "{what}: the file must not be trusted");
    assert_eq!(
        show(&run(p, Some(&k), 1000, 1)),
        show(&run(p, None, 1000, 1)),
        "{what}"
    );
    assert!(
        kernel(p, Some(store), host()).from_cache,
        "{what}: the entry must have been rewritten"
    );
}

#[test]
fn corrupt_truncated_and_foreign_files_are_ignored_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().to_path_buf());
    let p = front(PIPELINES[1]);
    let other = front(PIPELINES[2]);
    kernel(&p, Some(&store), host());
    kernel(&other, Some(&store), host());
    let key = kcache::key(host(), &p);
    let good = std::fs::read(store.path_for(&key)).unwrap();
    let foreign = std::fs::read(store.path_for(&kcache::key(host(), &other))).unwrap();

    check_ignored(&store, &p, "empty", &[]);
    for n in [
        1,
        8,
        12,
        100,
        good.len() / 2,
        good.len() - 17,
        good.len() - 1,
    ] {
        check_ignored(&store, &p, &format!("truncated to {n}"), &good[..n]);
    }
    let garbage: Vec<u8> = (0..good.len() as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    check_ignored(&store, &p, "garbage", &garbage);
    check_ignored(&store, &p, "another key's entry", &foreign);
    let mut longer = good.clone();
    longer.extend_from_slice(b"trailing");
    check_ignored(&store, &p, "trailing bytes", &longer);
    // A flipped byte anywhere: the magic, the key, the lengths, the code, the relocations,
    // the checksum. The code starts after magic, key length, key, payload length, alignment
    // and code length.
    let code_start = 8 + 4 + key.len() + 8 + 8 + 4;
    let mut positions: Vec<usize> = vec![0, 9, 12 + key.len() / 2, code_start, code_start + 10];
    positions.extend((0..good.len()).step_by(97));
    positions.extend([good.len() - 20, good.len() - 1]);
    for i in positions {
        let mut bad = good.clone();
        bad[i] ^= 0x04;
        check_ignored(&store, &p, &format!("byte {i} flipped"), &bad);
    }
    // A directory where the entry should be: not readable as a file, and not replaceable
    // either; compiling still works.
    let path = store.path_for(&key);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    for _ in 0..2 {
        let k = kernel(&p, Some(&store), host());
        assert!(!k.from_cache);
        assert_eq!(
            show(&run(&p, Some(&k), 1000, 1)),
            show(&run(&p, None, 1000, 1))
        );
    }
}

#[test]
fn a_missing_unwritable_or_impossible_directory_only_costs_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let p = front(PIPELINES[0]);
    let want = show(&run(&p, None, 1000, 1));

    // Missing: created on the first write.
    let missing = Store::new(dir.path().join("a/b/c"));
    assert!(!kernel(&p, Some(&missing), host()).from_cache);
    assert!(kernel(&p, Some(&missing), host()).from_cache);

    // Under a regular file: can never exist, whoever runs the test (root included).
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let impossible = Store::new(file.join("cache"));
    for _ in 0..2 {
        let k = kernel(&p, Some(&impossible), host());
        assert!(!k.from_cache);
        assert_eq!(show(&run(&p, Some(&k), 1000, 1)), want);
    }
    assert_eq!(impossible.usage().entries, 0);
    assert!(impossible.clear().is_err() || impossible.usage().entries == 0);

    // Read-only (root may write anyway: then it is an ordinary cache).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.path().join("read-only");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let store = Store::new(ro.clone());
        for _ in 0..2 {
            let k = kernel(&p, Some(&store), host());
            assert_eq!(show(&run(&p, Some(&k), 1000, 1)), want);
        }
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn threads_writing_one_entry_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(front(PIPELINES[2]));
    let want = show(&run(&p, None, 1000, 1));
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (p, barrier) = (Arc::clone(&p), Arc::clone(&barrier));
            let store = Store::new(dir.path().to_path_buf());
            std::thread::spawn(move || {
                barrier.wait();
                // Each thread compiles and writes, or loads another's finished entry.
                let k = kernel(&p, Some(&store), host());
                show(&run(&p, Some(&k), 1000, 1))
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
    let names = entry_files(dir.path());
    assert_eq!(
        names.len(),
        1,
        "one entry, no temporary file left: {names:?}"
    );
    let store = Store::new(dir.path().to_path_buf());
    assert!(kernel(&p, Some(&store), host()).from_cache);
}

#[test]
fn eviction_keeps_the_most_recently_used_entries_under_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().to_path_buf()).with_limits(Limits {
        entries: 10,
        bytes: 1 << 30,
    });
    let keys: Vec<String> = (0..20).map(|i| format!("key {i}")).collect();
    let now = std::time::SystemTime::now();
    for (i, k) in keys.iter().enumerate() {
        store.put(k, &[i as u8; 100]);
        // Entry i was last used i minutes after the oldest.
        let f = std::fs::File::options()
            .write(true)
            .open(store.path_for(k))
            .unwrap();
        f.set_modified(now - std::time::Duration::from_secs(60 * (40 - i as u64)))
            .unwrap();
    }
    // A writer that died long ago left a temporary file; a file that is not ours stays.
    let tmp = dir.path().join(".tmp-1-2-3");
    std::fs::write(&tmp, b"half").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(now - std::time::Duration::from_secs(7200))
        .unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    store.evict().unwrap();
    assert_eq!(store.usage().entries, 9);
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(store.get(k).is_some(), i >= 11, "entry {i}");
    }
    assert!(!tmp.exists());
    assert!(dir.path().join("notes.txt").exists());

    let by_size = Store::new(dir.path().to_path_buf()).with_limits(Limits {
        entries: 1000,
        bytes: 5 * store.path_for(&keys[19]).metadata().unwrap().len(),
    });
    by_size.evict().unwrap();
    assert_eq!(by_size.usage().entries, 4);
    assert!(by_size.get(&keys[19]).is_some());
}

fn fastc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fastc"))
        .args(args)
        .env("FASTITER_CACHE_DIR", dir)
        .env_remove("FASTITER_CACHE")
        .output()
        .expect("fastc runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_second_process_loads_the_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let w1 = "range(0, 10**6).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()";
    let first = fastc(dir.path(), &["--time", w1]);
    let second = fastc(dir.path(), &["--time", w1]);
    assert_eq!(text(&first.stdout), "166666166667000000\n");
    assert_eq!(first.stdout, second.stdout);
    assert!(
        !text(&first.stderr).contains("(cached)"),
        "{}",
        text(&first.stderr)
    );
    assert!(
        text(&second.stderr).contains(" ms (cached) · run "),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(Store::new(dir.path().to_path_buf()).usage().entries, 1);
}

#[test]
fn processes_writing_one_entry_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let src = "range(1, 10**5).map(math.gcd(x, 360) + math.sqrt(x)).sum()";
    let children: Vec<_> = (0..6)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_fastc"))
                .arg(src)
                .env("FASTITER_CACHE_DIR", dir.path())
                .env_remove("FASTITER_CACHE")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("fastc starts")
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(o.stdout, outs[0].stdout);
        assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
    }
    assert_eq!(entry_files(dir.path()).len(), 1);
}

#[test]
fn fastiter_cache_0_turns_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let run = |switch: &str| {
        Command::new(env!("CARGO_BIN_EXE_fastc"))
            .args(["--time", "range(10).map(x * x).sum()"])
            .env("FASTITER_CACHE_DIR", dir.path())
            .env("FASTITER_CACHE", switch)
            .output()
            .unwrap()
    };
    for switch in ["0", "off", "false"] {
        let o = run(switch);
        assert_eq!(text(&o.stdout), "285\n");
        assert!(!text(&o.stderr).contains("cached"));
    }
    assert!(entry_files(dir.path()).is_empty());
    let info = fastc(dir.path(), &["cache", "info"]);
    let o = Command::new(env!("CARGO_BIN_EXE_fastc"))
        .args(["cache", "info"])
        .env("FASTITER_CACHE_DIR", dir.path())
        .env("FASTITER_CACHE", "0")
        .output()
        .unwrap();
    assert!(
        text(&o.stdout).contains("disabled (turned off by FASTITER_CACHE=0)"),
        "{}",
        text(&o.stdout)
    );
    assert!(text(&info.stdout).contains("status:    enabled"));
    // Any other value leaves it on.
    run("1");
    assert_eq!(entry_files(dir.path()).len(), 1);
}

#[test]
fn an_unusable_directory_changes_nothing_on_stdout_or_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    for _ in 0..2 {
        let o = fastc(&file.join("cache"), &["range(10).map(x * x).sum()"]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(text(&o.stdout), "285\n");
        assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
    }
}

#[test]
fn fastc_cache_info_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let info = |dir: &Path| text(&fastc(dir, &["cache", "info"]).stdout);
    let i = info(dir.path());
    assert!(
        i.contains(&format!("directory: {}", dir.path().display())),
        "{i}"
    );
    assert!(
        i.contains("status:    enabled") && i.contains("entries:   0 (0 B)"),
        "{i}"
    );
    for src in ["range(10).sum()", "range(10).map(x * x).sum()"] {
        assert_eq!(fastc(dir.path(), &[src]).status.code(), Some(0));
    }
    std::fs::write(dir.path().join("notes.txt"), b"not a kernel").unwrap();
    assert!(info(dir.path()).contains("entries:   2 ("));
    let o = fastc(dir.path(), &["cache", "clear"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        text(&o.stdout).starts_with("removed 2 cached kernels ("),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(entry_files(dir.path()), ["notes.txt"]);
    assert!(info(dir.path()).contains("entries:   0 (0 B)"));
    // Clearing a directory that does not exist removes nothing and succeeds.
    let o = fastc(&dir.path().join("none"), &["cache", "clear"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("removed 0 cached kernels"));
}

#[test]
fn fastc_cache_is_a_command_and_pipelines_still_parse() {
    let dir = tempfile::tempdir().unwrap();
    let o = fastc(dir.path(), &["cache"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("info"), "{}", text(&o.stderr));
    let o = fastc(dir.path(), &["range(10).sum()"]);
    assert_eq!(text(&o.stdout), "45\n");
    let o = fastc(dir.path(), &["cache", "info", "--time"]);
    assert_eq!(o.status.code(), Some(2));
}
