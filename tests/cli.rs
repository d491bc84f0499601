//! The `fastc` command line: results on stdout in Python's repr, errors on stderr with exit
//! status 1 (an exception while running) or 2 (usage or compile error), and no panics.

use std::process::{Command, Output};

fn fastc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fastc"))
        .args(args)
        .output()
        .expect("fastc runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn prints_the_result_in_python_repr() {
    let o = fastc(&[
        "range(0, N).filter(x % 2 == 0).map(x * x).sum()",
        "-D",
        "N=1000000",
    ]);
    assert_eq!(stdout(&o), "166666166667000000\n");
    assert_eq!(o.status.code(), Some(0));
    for (src, want) in [
        (
            "range(10).map(x * 3).collect()",
            "[0, 3, 6, 9, 12, 15, 18, 21, 24, 27]",
        ),
        ("range(10).map(x / 4).max()", "2.25"),
        ("range(0).min()", "None"),
        ("range(10).any(x > 8)", "True"),
        (
            "range(1, 4).map(x * 1e16).collect()",
            "[1e+16, 2e+16, 3e+16]",
        ),
        (
            "range(0, 10**8).filter(lambda x: x % 2 == 0).map(lambda x: x * x).sum()",
            "166666661666666700000000",
        ),
    ] {
        let o = fastc(&[src]);
        assert_eq!(stdout(&o).trim_end(), want, "{src}: {}", stderr(&o));
    }
}

#[test]
fn time_goes_to_stderr() {
    let o = fastc(&[
        "--time",
        "--threads",
        "2",
        "range(0, 10**6).map(x * x).sum()",
    ]);
    assert_eq!(stdout(&o), "333332833333500000\n");
    let e = stderr(&o);
    assert!(
        e.contains("compile ")
            && e.contains(" ms · run ")
            && e.contains("2 threads")
            && e.contains("1000000 elements"),
        "{e}"
    );
}

#[test]
fn runtime_exception_exits_1_with_its_python_type() {
    let o = fastc(&["range(10).map(x // 0).sum()"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: ZeroDivisionError: integer division or modulo by zero\n"
    );
    assert!(stdout(&o).is_empty());
    let o = fastc(&["range(10).map(math.sqrt(x - 5)).sum()"]);
    assert_eq!(stderr(&o), "error: ValueError: math domain error\n");
}

#[test]
fn compile_error_exits_2_with_position_and_caret() {
    let o = fastc(&["range(10).map(x *).sum()"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("expected an expression at 1:18"), "{e}");
    assert!(e.contains("range(10).map(x *).sum()"), "{e}");
    let o = fastc(&["range(10).map(y * 2).sum()"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("name 'y' is not defined at 1:15"),
        "{}",
        stderr(&o)
    );
    let o = fastc(&["range(10).map(x << 1.5).sum()"]);
    assert!(
        stderr(&o).contains("unsupported operand type(s) for <<: 'int' and 'float'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn emits_every_stage() {
    let src = "range(10).map(x * 3).collect()";
    let ast = stdout(&fastc(&["--emit", "ast", src]));
    assert!(ast.contains("range"), "{ast}");
    let ir = stdout(&fastc(&["--emit", "ir", src]));
    assert!(ir.contains("map x.0: int -> (imul x.0 3) : int"), "{ir}");
    let clif = stdout(&fastc(&["--emit", "clif", src]));
    assert!(
        clif.contains("function") && clif.contains("smul_overflow"),
        "{clif}"
    );
    let asm = stdout(&fastc(&["--emit", "asm", src]));
    assert!(!asm.trim().is_empty());
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["range(10).sum()", "-D", "N"][..],
        &["range(10).sum()", "-D", "1N=3"],
        &["range(10).sum()", "-D", "N=1 +"],
        &["range(10).sum()", "--threads", "0"],
        &["range(10).sum()", "--emit", "bogus"],
    ] {
        let o = fastc(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{args:?}");
    }
}

#[test]
fn no_input_makes_fastc_panic() {
    let inputs = [
        "",
        " ",
        "(",
        ")",
        "range(",
        "range(10).",
        "range(10).map(",
        "range(10).sum()()",
        "lambda: 0",
        "1 +* 2",
        "range(10).map(x).map(x).map",
        "'str'",
        "range(10).map(x ** x).sum()",
        "range(10).map(x ** 10**10).sum()",
        "range(10, 0, 0).sum()",
        "range(10**30).sum()",
        "range(-10**30, 10**30).count()",
        "[1, 2.0].sum()",
        "[].sum()",
        "[[1]].sum()",
        "range(10).reduce(0).sum()",
        "range(10).foo()",
        "x",
        "((((((((((1))))))))))",
        "range(10).map(lambda a, b: a).sum()",
        "range(10).reduce(0, lambda a: a)",
        "range(2**63 - 1, 2**63 + 2).sum()",
        "range(10).map(math.foo(x)).sum()",
        "range(10).map(math).sum()",
        "\u{7f}é∑",
        "range(10).filter().sum()",
    ];
    for src in inputs {
        let o = fastc(&[src]);
        let code = o.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{src:?} exited {code:?}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("panicked"), "{src:?}: {}", stderr(&o));
    }
    let deep = "(".repeat(50_000);
    let o = fastc(&[&deep]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
