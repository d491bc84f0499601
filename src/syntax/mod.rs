//! The front end: pipeline source text → AST with a span on every node. The grammar is
//! `grammar/pipeline.pest`; **nothing of pest escapes this module**: callers see
//! [`ast::Expr`], [`ast::Program`] and [`CompileError`](crate::diagnostics::CompileError) only.
//!
//! Invariants the rest of the compiler may rely on:
//! - **`parse` and `parse_program` never panic**, on any input, and return either an AST or
//!   one error with a span inside the source.
//! - **An AST from `parse` is at most [`MAX_DEPTH`] nodes deep** (and the source at most
//!   [`MAX_NESTING`] brackets deep), so recursive passes over it cannot overflow the stack;
//!   statement blocks nest at most [`MAX_BLOCK_DEPTH`] deep.
//! - **Every node's span covers its children** (a `Binary` spans both operands, a `Call`
//!   spans through its closing parenthesis); a parenthesised expression keeps the span of
//!   what is inside the parentheses, as Python's `ast` does.

pub mod ast;
mod display;
mod parser;
mod program;

pub use display::{render_ast, render_program};
pub use parser::{parse, MAX_DEPTH, MAX_NESTING};
pub use program::{parse_program, MAX_BLOCK_DEPTH};
