//! Every example in `examples/` runs and prints what its `# expect:` line says. An example is
//! a pipeline with `#` comment lines, `# params: NAME=VALUE, ...` and `# expect: REPR`.

use fastiter::{RunOptions, Value};

#[test]
fn examples_produce_their_expected_output() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("pipe") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let mut params = Vec::new();
        let mut expect = None;
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("# params:") {
                for def in p.split(',') {
                    let (name, value) = def.trim().split_once('=').expect("NAME=VALUE");
                    let v = fastiter::eval_constant(value).expect("a constant");
                    params.push((name.trim().to_string(), v));
                }
            } else if let Some(e) = line.strip_prefix("# expect:") {
                expect = Some(e.trim().to_string());
            }
        }
        let expect = expect.unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()));
        let opts = RunOptions {
            threads: 2,
            jit: true,
            cancel: None,
        };
        let got: Value = fastiter::eval(&text, &params, &opts)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(got.to_string(), expect, "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 3, "expected the examples in {dir}");
}
