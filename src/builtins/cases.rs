//! The table's operations against CPython: `tests/data/builtin_cases.txt`
//! (`scripts/gen_builtin_cases.py`) holds what every CPython found when it was generated
//! (3.9 and newer) computes for each case. Each operation's exact implementation, and its
//! kernel slot function where the arguments fit in 64 bits, must give the same for every
//! version recorded; where a version lacks the function (`A`), the declaration must say so.

use std::collections::HashSet;

use num_bigint::BigInt;
use num_traits::ToPrimitive;

use super::*;
use crate::errors::ErrCode;
use crate::pyops::floats::HypotAlg;
use crate::value::Value;

const CASES: &str = include_str!("../../tests/data/builtin_cases.txt");

/// The declaration and the operation a case line's name stands for, under `python`.
fn resolve(op: &str, python: (u8, u8)) -> (&'static Decl, Func) {
    let math = |n: &str| lookup(Owner::Math, n).expect("declared");
    let builtin = |n: &str| lookup(Owner::Builtin, n).expect("declared");
    match op {
        "gcd" => (math("gcd"), Func::Gcd),
        "lcm" => (math("lcm"), Func::Lcm),
        "isqrt" => (math("isqrt"), Func::Isqrt),
        "factorial" => (math("factorial"), Func::Factorial),
        "comb" => (math("comb"), Func::Comb),
        "perm" => (math("perm"), Func::Perm),
        "bit_length" => (
            lookup(Owner::IntMethod, "bit_length").unwrap(),
            Func::BitLength,
        ),
        "bit_count" => (
            lookup(Owner::IntMethod, "bit_count").unwrap(),
            Func::BitCount,
        ),
        "pow_mod" => (builtin("pow"), Func::PowMod),
        "int_round" => (builtin("round"), Func::IntRound),
        "int_divmod_rem" => (builtin("divmod"), Func::IntDivmodRem),
        "hypot" => (math("hypot"), Func::hypot(HypotAlg::of(python))),
        "atan2" => (math("atan2"), Func::Atan2),
        "copysign" => (math("copysign"), Func::Copysign),
        "fmod" => (math("fmod"), Func::Fmod),
        "remainder" => (math("remainder"), Func::Remainder),
        "ldexp" => (math("ldexp"), Func::Ldexp),
        "frexp_mantissa" => (math("frexp"), Func::FrexpMantissa),
        "frexp_exponent" => (math("frexp"), Func::FrexpExponent),
        "modf_frac" => (math("modf"), Func::ModfFrac),
        "modf_int" => (math("modf"), Func::ModfInt),
        "degrees" => (math("degrees"), Func::Degrees),
        "radians" => (math("radians"), Func::Radians),
        "isclose" => (math("isclose"), Func::Isclose),
        "gamma" => (math("gamma"), Func::Gamma),
        "lgamma" => (math("lgamma"), Func::Lgamma),
        "cbrt" => (math("cbrt"), Func::Cbrt),
        "math_pow" if python < (3, 11) => (math("pow"), Func::MathPowV310),
        "math_pow" => (math("pow"), Func::MathPow),
        "float_round" => (builtin("round"), Func::FloatRound),
        "is_integer" => (
            lookup(Owner::FloatMethod, "is_integer").unwrap(),
            Func::IsInteger,
        ),
        "float_divmod_quot" => (builtin("divmod"), Func::FloatDivmodQuot),
        "float_divmod_rem" => (builtin("divmod"), Func::FloatDivmodRem),
        _ => panic!("unknown operation {op}"),
    }
}

fn parse_version(v: &str) -> (u8, u8) {
    let (a, b) = v.split_once('.').expect("major.minor");
    (a.parse().unwrap(), b.parse().unwrap())
}

fn encode(r: Result<Value, ErrCode>) -> String {
    match r {
        Ok(Value::Int(v)) => format!("i{v}"),
        Ok(Value::Float(f)) if f.is_nan() => "fnan".to_string(),
        Ok(Value::Float(f)) => format!("f{:016x}", f.to_bits()),
        Ok(Value::Bool(b)) => format!("b{}", if b { "True" } else { "False" }),
        Ok(v) => format!("?{v}"),
        Err(e) => format!("E{e:?}"),
    }
}

struct Case {
    line: usize,
    op: String,
    args: Vec<String>,
    /// (version, expected) for every version checked.
    expected: Vec<((u8, u8), String)>,
}

fn cases() -> Vec<Case> {
    let mut versions = Vec::new();
    let mut out = Vec::new();
    for (i, line) in CASES.lines().enumerate() {
        if let Some(v) = line.strip_prefix("# versions: ") {
            versions = v.split_whitespace().map(parse_version).collect();
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (head, tail) = line.split_once(" ||| ").expect("OP ARGS ||| RESULT");
        let mut words = head.split_whitespace();
        let op = words.next().expect("an operation").to_string();
        let args = words.map(str::to_string).collect();
        let expected = if tail.starts_with('@') {
            tail.split('@')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (v, r) = p.trim().split_once(' ').expect("@VERSION RESULT");
                    (parse_version(v), r.to_string())
                })
                .collect()
        } else {
            versions.iter().map(|v| (*v, tail.to_string())).collect()
        };
        out.push(Case {
            line: i + 1,
            op,
            args,
            expected,
        });
    }
    assert!(!versions.is_empty(), "no `# versions:` line");
    out
}

fn value(arg: &str, ty: crate::ir::Type) -> Value {
    match ty {
        crate::ir::Type::Float => {
            let bits = u64::from_str_radix(arg.strip_prefix('f').expect("a float"), 16);
            Value::Float(f64::from_bits(bits.expect("hex bits")))
        }
        _ => Value::Int(arg.parse::<BigInt>().expect("an int")),
    }
}

#[test]
fn operations_match_cpython_in_every_version() {
    let mut failures = Vec::new();
    let mut tested: HashSet<Func> = HashSet::new();
    let mut checks = 0;
    // Lines where fastiter refuses (ResultTooLarge) what CPython computes at length.
    let mut refusals = HashSet::new();
    for c in cases() {
        for (python, want) in &c.expected {
            let (decl, f) = resolve(&c.op, *python);
            let what = format!(
                "line {} ({}.{}): {} {:?}",
                c.line, python.0, python.1, c.op, c.args
            );
            if want == "A" {
                if *python >= decl.since {
                    failures.push(format!("{what}: CPython lacks it, the table does not"));
                }
                continue;
            }
            if *python < decl.since {
                failures.push(format!(
                    "{what}: CPython has it, the table says since {:?}",
                    decl.since
                ));
                continue;
            }
            tested.insert(f);
            checks += 1;
            let op = f.op();
            let vals: Vec<Value> = c
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    value(
                        a,
                        if op.variadic {
                            op.params[0]
                        } else {
                            op.params[i]
                        },
                    )
                })
                .collect();
            let got = encode((op.exact)(&vals));
            if got == "EResultTooLarge" {
                refusals.insert(c.line);
            } else if &got != want {
                failures.push(format!("{what}: exact gives {got}, CPython {want}"));
            }
            // The kernel path, where every argument fits its slot.
            let slots: Option<Vec<u64>> = vals.iter().map(Value::to_slot).collect();
            if let Some(slots) = slots {
                let got = match run_slots(f, &slots) {
                    Ok(bits) => encode(Ok(Value::from_slot(bits, op.result))),
                    Err(Status::Raise(e)) => encode(Err(e)),
                    Err(Status::Inexact) => {
                        let big = want
                            .strip_prefix('i')
                            .and_then(|v| v.parse::<BigInt>().ok())
                            .is_some_and(|v| v.to_i64().is_none());
                        if big {
                            want.clone()
                        } else {
                            "inexact".to_string()
                        }
                    }
                };
                if got != "EResultTooLarge" && &got != want {
                    failures.push(format!("{what}: slots give {got}, CPython {want}"));
                }
            }
        }
    }
    assert!(checks > 10_000, "only {checks} checks");
    assert!(
        failures.is_empty(),
        "{} of {checks} checks differ from CPython:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(refusals.len() <= 1, "refused on lines {refusals:?}");
    let untested: Vec<&str> = Func::ALL
        .iter()
        .filter(|f| !tested.contains(f))
        .map(|f| f.op().name)
        .collect();
    assert!(untested.is_empty(), "no case checks {untested:?}");
}

#[test]
fn every_error_of_the_table_is_raised_by_some_case() {
    let mut seen = HashSet::new();
    for c in cases() {
        for (_, want) in &c.expected {
            if let Some(code) = want.strip_prefix('E') {
                seen.insert(code.to_string());
            }
        }
    }
    for code in ErrCode::ALL {
        // The codes after ResultTooLarge are the table's own (but min()/max() of nothing,
        // which comprehensions raise: the statement table checks those).
        let table = !matches!(code, ErrCode::MinEmpty | ErrCode::MaxEmpty);
        if table && code as u32 > ErrCode::ResultTooLarge as u32 {
            assert!(
                seen.contains(&format!("{code:?}")),
                "no case raises {code:?}"
            );
        }
    }
}
