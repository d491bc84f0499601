"""``@fastiter.compile``: whole functions as kernels.

A function with no pipeline in it, whose body is in the compiled subset, becomes the program
``def f(...): ...`` + ``range(0, 1).map(lambda _: f(args)).min()``, compiled once per tuple of
argument types. A function whose body is ``return <chain>`` over ``par_range`` has its whole
chain translated from its AST, so that a call is one native call. Anything else runs the
function itself, its pipelines compiling as usual. Each compiled entry is a native ``Caller``:
it checks the argument types, reads the parameters that come from globals, closure cells and
default values at every call, and checks that every other name the text depends on (functions,
``math``, builtins, ``par_range``) is still bound to the object it was compiled for; when
anything differs it answers ``NotImplemented`` and the entry is rebuilt.
"""

from __future__ import annotations

import ast
import functools
import threading
import types
from collections import OrderedDict
from typing import Any, Callable

from fastiter import _native
from fastiter._source import (
    AST_LOCK,
    PARAM_TYPES,
    Unsupported,
    def_program,
    find_node,
    resolve,
)

_SCALAR = "scalar"
_CHAIN = "chain"
_BODY = "body"

_CHAIN_STAGES = ("map", "filter")
_CHAIN_CONSUMERS = ("sum", "count", "min", "max", "any", "all", "collect")


def _strict_error(reason: Any) -> BaseException:
    from fastiter._pipeline import _strict_error as make

    return make(reason)


class _Entry:
    """One compiled specialisation: the native caller, or why there is none."""

    __slots__ = ("caller", "error", "params", "sources", "text")

    def __init__(self) -> None:
        self.caller: Any = None
        self.error: Unsupported | None = None
        self.text = ""
        self.params: list[tuple[str, str]] = []
        self.sources: list[Any] = []


class CompiledFunction(_native.CompiledBase):
    """A function compiled by :func:`fastiter.compile` (see there). Calling it runs the
    native entry last used when the arguments fit it (``CompiledBase.__call__``), else
    ``_call``."""

    def __init__(self, fn: Callable[..., Any], strict: bool) -> None:
        functools.update_wrapper(self, fn)
        self._fn = fn
        # What stages and other compiled code see in place of this wrapper.
        self._fi_function = fn
        self._strict = strict
        self._mode: str | None = None
        self._why_body: Unsupported | None = None
        self._entries: dict[Any, _Entry] = {}

    def __repr__(self) -> str:
        return f"<fastiter.compile {self._fn.__qualname__}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        # As a method: bind like a function would.
        return self if obj is None else types.MethodType(self, obj)

    def explain(self, *args: Any, **kwargs: Any) -> str:
        """What :func:`fastiter.explain` says for a call with these arguments."""
        from fastiter import explain

        return explain(self, *args, **kwargs)

    # --- the slow path ------------------------------------------------------------------

    def _python(self, args: tuple, kwargs: dict) -> Any:
        from fastiter._pipeline import _strict

        if not self._strict:
            return self._fn(*args, **kwargs)
        token = _strict.set(True)
        try:
            return self._fn(*args, **kwargs)
        finally:
            _strict.reset(token)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        mode = self._mode or self._analyze()
        if mode == _BODY:
            if self._strict and self._why_body is not None:
                raise _strict_error(self._why_body)
            return self._python(args, kwargs)
        bound = _bind(self._fn, args, kwargs)
        if bound is None:
            return self._python(args, kwargs)  # CPython's TypeError
        key = tuple(map(type, bound))
        for attempt in (0, 1):
            entry = self._entries.get(key) if attempt == 0 else None
            if entry is None:
                entry = self._build(mode, key)
                if len(self._entries) >= 64:
                    self._entries.clear()
                self._entries[key] = entry
            if entry.caller is None:
                if self._strict and mode == _SCALAR:
                    raise _strict_error(entry.error)
                return self._python(args, kwargs)
            try:
                r = entry.caller.call(bound)
            except _native.Refused:
                return self._python(args, kwargs)
            if r is not NotImplemented:
                if not kwargs and len(bound) == len(args):
                    self._hot = entry.caller
                return r
        # Rebuilt and still not applicable: a global changing under our feet.
        return self._python(args, kwargs)

    def _analyze(self) -> str:
        fn = self._fn
        mode = _BODY
        try:
            if not isinstance(fn, types.FunctionType):
                raise Unsupported(f"{fn!r} is not a Python function")
            code = fn.__code__
            if code.co_flags & (0x04 | 0x08) or code.co_kwonlyargcount:
                raise Unsupported(
                    f"`{fn.__qualname__}` takes *args, **kwargs or keyword-only arguments"
                )
            if _uses_pipelines(fn):
                with AST_LOCK:
                    _, _, node = find_node(fn)
                mode = _CHAIN if _returned_chain(node) is not None else _BODY
            else:
                mode = _SCALAR
        except Unsupported as e:
            self._why_body = e
        self._mode = mode
        return mode

    def _build(self, mode: str, key: tuple) -> _Entry:
        entry = _Entry()
        try:
            with AST_LOCK:
                if mode == _SCALAR:
                    text, params, sources, guards = _scalar_program(self._fn, key)
                else:
                    text, params, sources, guards = _chain_program(self._fn, key)
            entry.text = text
            entry.params = params
            entry.sources = sources
            try:
                kernel = _native.compile(text, params)
            except _native.CompileError as e:
                raise _located(e, text, self._fn) from None
            entry.caller = _native.Caller(kernel, sources, guards)
        except Unsupported as e:
            entry.error = e
        return entry

    def _explain(self, args: tuple, kwargs: dict) -> str | None:
        """The explanation of a compiled call, or None for a function run as Python."""
        mode = self._mode or self._analyze()
        if mode == _BODY:
            return None
        bound = _bind(self._fn, args, kwargs)
        if bound is None:
            return None
        entry = self._build(mode, tuple(map(type, bound)))
        if entry.caller is None and mode == _CHAIN:
            return None  # its pipelines say why
        name = self._fn.__qualname__
        what = "a native function" if mode == _SCALAR else "one kernel for the returned chain"
        lines = [f"function: {name}{tuple(type(a).__name__ for a in bound)}"]
        if entry.caller is None:
            lines.append("compiled: no, it runs as plain Python (same results, Python speed)")
            lines.append(f"reason: {entry.error}")
            if entry.text:
                lines.append(f"kernel source tried: {entry.text}")
            return "\n".join(lines)
        k = entry.caller.kernel
        lines.append(f"compiled: yes, as {what} ({k.compile_time * 1e3:.2f} ms to compile)")
        lines.append("kernel source: " + entry.text.replace("\n", "\n  "))
        if entry.params:
            values = list(bound) + [_read_slot(s) for s in entry.sources]
            shown = ", ".join(f"{n}: {t} = {v!r}" for (n, t), v in zip(entry.params, values))
            lines.append(f"parameters: {shown}")
        lines.append("IR:")
        lines.extend("  " + s for s in k.ir.rstrip("\n").split("\n"))
        return "\n".join(lines)


def _read_slot(slot: tuple[Any, Any]) -> Any:
    container, key = slot
    try:
        if key is None:
            return container.cell_contents
        if isinstance(container, (dict, tuple)):
            return container[key]
        return getattr(container, key)
    except (LookupError, ValueError, AttributeError):
        return "<unbound>"


def _bind(fn: Any, args: tuple, kwargs: dict) -> tuple | None:
    """The positional values of a call (defaults filled in), or None when Python would raise
    or the function takes other kinds of arguments."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    n = code.co_argcount
    if not kwargs and len(args) == n:
        return args
    if len(args) > n:
        return None
    names = code.co_varnames[:n]
    out = list(args) + [_UNSET] * (n - len(args))
    for k, v in kwargs.items():
        if k not in names:
            return None
        i = names.index(k)
        if i < code.co_posonlyargcount or out[i] is not _UNSET:
            return None
        out[i] = v
    defaults = fn.__defaults__ or ()
    first_default = n - len(defaults)
    for i, v in enumerate(out):
        if v is _UNSET:
            if i < first_default:
                return None
            out[i] = defaults[i - first_default]
    return tuple(out)


_UNSET = object()


def _located(e: Any, text: str, fn: Any) -> Unsupported:
    from fastiter._pipeline import _map_error

    return _map_error(text, [], e, _DEFS.get(text, []))


# The def blocks of each program text, for placing compile errors in the user's file. Read
# right after the text fails to compile, so only the newest texts need to stay (a process that
# compiles thousands of functions kept every text here: the soak's memory grew with them).
_DEFS: OrderedDict[str, list[tuple[str, str, int, int]]] = OrderedDict()
_MAX_DEFS = 256
_defs_lock = threading.Lock()


def _remember_defs(text: str, defs: list[tuple[str, str, int, int]]) -> None:
    with _defs_lock:
        _DEFS[text] = defs
        _DEFS.move_to_end(text)
        while len(_DEFS) > _MAX_DEFS:
            _DEFS.popitem(last=False)


# --- which kind of function ---------------------------------------------------------------


def _uses_pipelines(fn: types.FunctionType) -> bool:
    """Whether the function's code (or code nested in it) reads a name bound to fastiter's
    constructors or module."""
    import fastiter

    marks = {id(fastiter), id(fastiter.par_range), id(fastiter.into_par_iter)}
    todo = [fn.__code__]
    while todo:
        code = todo.pop()
        for name in code.co_names + code.co_freevars:
            if name in code.co_freevars:
                try:
                    v = fn.__closure__[fn.__code__.co_freevars.index(name)].cell_contents
                except (ValueError, IndexError, TypeError):
                    continue
            else:
                v = resolve(fn, name, None)
            if id(v) in marks:
                return True
        todo.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return False


def _returned_chain(node: ast.AST) -> ast.Call | None:
    """The chain of ``def f(...): return par_range(...)...consumer(...)``, else None."""
    if not isinstance(node, ast.FunctionDef):
        return None
    body = list(node.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    value = body[0].value
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return None
    if value.func.attr not in _CHAIN_CONSUMERS:
        return None
    return value


# --- program texts ------------------------------------------------------------------------


def _arg_params(fn: Any, types_: tuple) -> list[tuple[str, str]]:
    out = []
    for i, t in enumerate(types_):
        pt = PARAM_TYPES.get(t)
        if pt is None:
            raise Unsupported(
                f"argument {i + 1} of `{fn.__qualname__}` is a {t.__name__} "
                "(compiled functions take int, float and bool arguments)"
            )
        out.append((f"_fi_a{i}", pt))
    return out


def _scalar_program(fn: Any, types_: tuple) -> tuple[str, list, list, list]:
    params = _arg_params(fn, types_)
    prog = def_program(None)
    name = prog.add_root(fn, 0)
    args = ", ".join(n for n, _ in params)
    text = prog.prefix + f"range(0, 1).map(lambda _fi_i: {name}({args})).min()"
    _remember_defs(text, prog.defs)
    return text, params + prog.params, prog.sources, prog.guards


class _ChainNames(ast.NodeTransformer):
    """Renames the free names of a chain's expressions to what the program text calls them."""

    def __init__(self, fn: Any, argmap: dict[str, str], prog: Any) -> None:
        self.fn = fn
        self.argmap = argmap
        self.prog = prog
        self.bound: list[set[str]] = []

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        if node.args.defaults or node.args.kw_defaults or node.args.vararg or node.args.kwarg:
            raise Unsupported("a lambda of the chain has defaults or *args")
        self.bound.append({a.arg for a in node.args.posonlyargs + node.args.args})
        node.body = self.visit(node.body)
        self.bound.pop()
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if any(node.id in b for b in self.bound):
            return node
        if node.id in self.argmap:
            return ast.copy_location(ast.Name(id=self.argmap[node.id], ctx=ast.Load()), node)
        text = self.prog.free_name(self.fn, node.id, (node.lineno, node.col_offset))
        return ast.copy_location(ast.parse(text, mode="eval").body, node)


def _chain_program(fn: Any, types_: tuple) -> tuple[str, list, list, list]:
    import fastiter

    params = _arg_params(fn, types_)
    _, _, node = find_node(fn)
    chain = _returned_chain(node)
    if chain is None:  # pragma: no cover - checked by _analyze
        raise Unsupported("the body is not `return <chain>`")
    calls = []
    e: ast.expr = chain
    while isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute):
        calls.append((e.func.attr, e.args, e.keywords))
        e = e.func.value
    calls.reverse()
    if not isinstance(e, ast.Call) or not isinstance(e.func, ast.Name) or e.keywords:
        raise Unsupported("the chain does not start with `par_range(...)`")
    prog = def_program(None)
    prog.guard_name(fn, e.func.id, fastiter.par_range)
    if not 1 <= len(e.args) <= 3:
        raise Unsupported("par_range takes 1 to 3 arguments")
    argnames = [a.arg for a in node.args.posonlyargs + node.args.args]  # type: ignore[attr-defined]
    argmap = {a: a for a in argnames}
    params = [(a, t) for a, (_, t) in zip(argnames, params)]
    for i, a in enumerate(argnames):
        prog.taken[a] = ("argument", i)
    names = _ChainNames(fn, argmap, prog)

    def render(x: ast.expr) -> str:
        import copy

        out = names.visit(copy.deepcopy(x))
        ast.fix_missing_locations(out)
        return ast.unparse(out)

    parts = ["range(" + ", ".join(render(a) for a in e.args) + ")"]
    for i, (op, args, kws) in enumerate(calls):
        last = i == len(calls) - 1
        allowed = _CHAIN_CONSUMERS if last else _CHAIN_STAGES
        if op not in allowed or kws:
            raise Unsupported(f"`.{op}()` is not in the chains compiled whole")
        if op in ("sum", "count", "min", "max", "collect") and args:
            raise Unsupported(f"`.{op}(...)` with arguments")
        if len(args) > 1 or (op in _CHAIN_STAGES and len(args) != 1):
            raise Unsupported(f"`.{op}()` takes one function")
        parts.append(f".{op}(" + ", ".join(render(a) for a in args) + ")")
    text = prog.prefix_text() + "".join(parts)
    _remember_defs(text, prog.defs)
    return text, params + prog.params, prog.sources, prog.guards


# --- explain ------------------------------------------------------------------------------


def explain_function(obj: Any, args: tuple, kwargs: dict) -> str | None:
    if not isinstance(obj, CompiledFunction):
        return None
    return obj._explain(args, kwargs)


__all__ = ["CompiledFunction", "explain_function"]
