//! What the fuzz targets share: the checks (`check`, also compiled into
//! `tests/fuzz_findings.rs`) and the structured pipelines of `jit_vs_interp` (`gen`).
pub mod check;
pub mod gen;
