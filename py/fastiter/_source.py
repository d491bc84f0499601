"""From Python callables to pipeline-language text.

A stage function (a lambda, a ``def`` whose body is one ``return``, or a builtin such as ``abs``
or ``math.sqrt``) is found in its source file with :mod:`inspect`, :mod:`linecache` and
:mod:`ast`, and turned into a ``lambda`` of the pipeline language. Its free names are resolved
when the pipeline runs: numbers become typed runtime parameters (so changing them neither
recompiles nor gives stale results), the ``math`` module and the supported builtins stay names,
and anything else makes the pipeline fall back to plain Python, with the reason and the source
position kept for :func:`fastiter.explain`.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import copy
import linecache
import math
import os
import threading
import types
from typing import Any, Callable

# The builtins the pipeline language knows, by name.
BUILTIN_NAMES = ("abs", "min", "max", "int", "float", "bool", "round", "range")
_BUILTINS = {name: getattr(builtins, name) for name in BUILTIN_NAMES}
_BUILTIN_IDS = {id(v): k for k, v in _BUILTINS.items()}

# Python types whose values become parameters, by the parameter type the compiler takes.
# (Subclasses such as numpy.float64 are not here on purpose: their arithmetic differs.)
PARAM_TYPES = {int: "int", float: "float", bool: "bool"}


class Unsupported(Exception):
    """Why a pipeline or callable cannot be compiled, and where in the user's source."""

    def __init__(self, reason: str, where: str | None = None, snippet: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where
        self.snippet = snippet

    def __str__(self) -> str:
        text = self.reason
        if self.where:
            text = f"{self.where}: {text}"
        if self.snippet:
            text = f"{text}\n{self.snippet}"
        return text


def caret_snippet(filename: str, line: int, col: int) -> str:
    """The source line and a caret under column ``col`` (0-based)."""
    src = linecache.getline(filename, line).rstrip("\n")
    if not src:
        return ""
    return f"    {src}\n    {' ' * col}^"


# --- Parsing source files -------------------------------------------------------------------

_tree_lock = threading.Lock()
_trees: dict[tuple[str, int], tuple[str, ast.Module]] = {}


def _module_tree(filename: str, module_globals: dict | None) -> tuple[str, ast.Module]:
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        raise Unsupported(
            "its source code is not available (defined in a string passed to exec/eval, "
            "or in an interactive session without source)"
        )
    text = "".join(lines)
    key = (filename, hash(text))
    with _tree_lock:
        hit = _trees.get(key)
    if hit is not None:
        return hit
    try:
        tree = ast.parse(text, filename)
    except SyntaxError as e:
        raise Unsupported(f"its source file does not parse: {e}") from None
    with _tree_lock:
        if len(_trees) >= 4:
            _trees.clear()
        _trees[key] = (text, tree)
    return text, tree


def _span(node: ast.AST) -> tuple[int, int, int, int]:
    return (
        node.lineno,  # type: ignore[attr-defined]
        node.col_offset,  # type: ignore[attr-defined]
        node.end_lineno or node.lineno,  # type: ignore[attr-defined]
        node.end_col_offset or 0,  # type: ignore[attr-defined]
    )


def _code_span(code: types.CodeType) -> tuple[int, int, int, int] | None:
    """Where a code object's instructions lie in its file (Python 3.11+), else None."""
    positions = getattr(code, "co_positions", None)
    if positions is None:
        return None
    lo = hi = None
    for line, end_line, col, end_col in positions():
        if line is None or col is None or end_line is None or end_col is None:
            continue
        if line < code.co_firstlineno or (line == end_line and col == end_col):
            continue  # RESUME and other instructions with no place in the source
        if lo is None or (line, col) < lo:
            lo = (line, col)
        if hi is None or (end_line, end_col) > hi:
            hi = (end_line, end_col)
    if lo is None or hi is None:
        return None
    return (lo[0], lo[1], hi[0], hi[1])


def _contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return (outer[0], outer[1]) <= (inner[0], inner[1]) and (inner[2], inner[3]) <= (
        outer[2],
        outer[3],
    )


def _arg_names(args: ast.arguments) -> list[str]:
    return [a.arg for a in getattr(args, "posonlyargs", [])] + [a.arg for a in args.args]


def _find_node(fn: types.FunctionType) -> tuple[str, str, ast.AST]:
    """The file, its text and the ``ast.Lambda`` or ``ast.FunctionDef`` of ``fn``.

    A candidate found by line and argument names is only accepted when compiling it gives
    ``fn``'s own bytecode: a source file edited since it was imported, or code compiled from
    a string under an existing file's name, must not compile some other expression."""
    code = fn.__code__
    filename = code.co_filename
    text, tree = _module_tree(filename, fn.__globals__)
    first = code.co_firstlineno
    if code.co_name == "<lambda>":
        cands: list[ast.AST] = [
            n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == first
        ]
        names = list(code.co_varnames[: code.co_argcount + code.co_posonlyargcount])
        names = names[: code.co_argcount]
        cands = [n for n in cands if _arg_names(n.args) == names]  # type: ignore[attr-defined]
        if not cands:
            raise Unsupported(f"its source was not found at line {first} of {filename}")
        cands = _matching(cands, code, filename, first, tree)
        if len(cands) > 1:
            span = _code_span(code)
            if span is not None:
                inside = [n for n in cands if _contains(_span(n), span)]  # type: ignore[attr-defined]
                # The innermost lambda that holds every instruction of this code.
                inside.sort(key=lambda n: (_span(n)[2] - _span(n)[0], _span(n)[3] - _span(n)[1]))
                cands = inside[:1] if inside else cands
        # Several left: they all compile to this very bytecode, so any of them is this code.
        return filename, text, cands[0]
    cands = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == code.co_name:
            lines = [n.lineno] + [d.lineno for d in n.decorator_list]
            if first in lines:
                cands.append(n)
    if not cands:
        raise Unsupported(f"the source of `{code.co_name}` was not found in {filename}")
    return filename, text, _matching(cands, code, filename, first, tree)[0]


def _matching(
    cands: list[ast.AST], code: types.CodeType, filename: str, line: int, tree: ast.Module
) -> list[ast.AST]:
    imports = _module_imports(tree)
    found = [n for n in cands if _compiles_to(n, code, filename, imports)]
    if not found:
        raise Unsupported(
            f"the source at line {line} of {filename} does not compile to this function's code "
            "(was the file edited after it was imported, or the code compiled from a string?)"
        )
    return found


_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag
# Flags that change what a code object does (varargs, generators, coroutines).
_KIND_FLAGS = 0x04 | 0x08 | 0x20 | 0x80 | 0x100 | 0x200


def _code_key(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(
        _code_key(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c))
        for c in code.co_consts
    )
    return (
        code.co_code,
        consts,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags & _KIND_FLAGS,
    )


def _module_imports(tree: ast.Module) -> list[ast.stmt]:
    """The module-scope import statements (CPython 3.11 compiles ``mod.f(x)`` differently
    when ``mod`` was imported at module level)."""
    out: list[ast.stmt] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        n = todo.pop()
        if isinstance(n, ast.Import) or (
            isinstance(n, ast.ImportFrom) and n.module != "__future__"
        ):
            out.append(n)
        elif not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo.extend(c for c in ast.iter_child_nodes(n) if isinstance(c, ast.stmt))
    return out


def _compiles_to(
    node: ast.AST, code: types.CodeType, filename: str, imports: list[ast.stmt]
) -> bool:
    """Whether ``node``, compiled where its free variables are closure cells as in ``code``
    (and the module's imports are what they are), gives ``code``'s bytecode, constants and
    names."""
    node = copy.deepcopy(node)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        node.decorator_list = []
        stmt: ast.stmt = node
    else:
        stmt = ast.Return(value=node)  # type: ignore[arg-type]
    wrapper = ast.parse("def _fi_wrap():\n    pass\n").body[0]
    assert isinstance(wrapper, ast.FunctionDef)
    body: list[ast.stmt] = []
    if code.co_freevars:
        body.append(
            ast.Assign(
                targets=[ast.Name(id=n, ctx=ast.Store()) for n in code.co_freevars],
                value=ast.Constant(value=None),
            )
        )
    wrapper.body = [*body, stmt]
    mod = ast.Module(body=[*imports, wrapper], type_ignores=[])
    ast.fix_missing_locations(mod)
    try:
        top = compile(mod, filename, "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True)
    except (SyntaxError, ValueError, TypeError):
        return False
    want = _code_key(code)
    todo = [top]
    while todo:
        c = todo.pop()
        if c.co_name == code.co_name and _code_key(c) == want:
            return True
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return False


def find_node(fn: types.FunctionType) -> tuple[str, str, ast.AST]:
    """The file, its text and the ``ast.Lambda`` or ``ast.FunctionDef`` of ``fn``."""
    with AST_LOCK:
        return _find_node(fn)


# --- Stage templates ------------------------------------------------------------------------


class Template:
    """A callable as a pipeline-language lambda, with its free names still to be resolved."""

    __slots__ = ("args", "body", "defnode", "filename", "free", "origin", "text")

    def __init__(
        self,
        args: list[str],
        body: ast.expr | None,
        filename: str,
        text: str,
        free: list[tuple[str, int | None, tuple[int, int]]],
        origin: tuple[int, int],
    ) -> None:
        self.args = args
        self.body = body  # None: `text` is the whole lambda (a builtin)
        self.filename = filename
        self.text = text  # the source file, or the lambda text of a builtin
        # (name, closure cell index or None for a global, (line, col) of its first use)
        self.free = free
        self.origin = origin
        # A `def` with statements: compiled as a def of the pipeline language, named by it.
        self.defnode: ast.FunctionDef | None = None


class _FreeNames(ast.NodeVisitor):
    def __init__(self, bound: list[str]) -> None:
        self.bound = [set(bound)]
        self.found: dict[str, tuple[int, int]] = {}

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and not any(node.id in b for b in self.bound):
            self.found.setdefault(node.id, (node.lineno, node.col_offset))

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for d in node.args.defaults:
            self.visit(d)
        self.bound.append(set(_arg_names(node.args)))
        self.visit(node.body)
        self.bound.pop()


_template_lock = threading.Lock()
# Held while building ASTs or compiling them: CPython 3.11's ast module keeps a recursion counter
# that concurrent parses from several threads corrupt ("SystemError: AST constructor recursion
# depth mismatch"), so fastiter never parses, unparses or compiles ASTs on two threads at once.
AST_LOCK = threading.RLock()
_templates: dict[Any, Any] = {}


def template_for(fn: Callable[..., Any], arity: int) -> Template:
    """The template of ``fn`` as a function of ``arity`` arguments (cached per code object)."""
    if isinstance(fn, types.FunctionType):
        key: Any = (fn.__code__, arity)
    else:
        key = (id(fn), arity)
    hit = _templates.get(key)  # a dict read is atomic (and locked per dict when free-threaded)
    if hit is None:
        try:
            with AST_LOCK:
                hit = _make_template(fn, arity)
        except Unsupported as e:
            hit = e
        with _template_lock:
            if len(_templates) > 256:
                _templates.clear()
            _templates[key] = hit
    if isinstance(hit, Unsupported):
        # A fresh exception each time: re-raising the cached one would chain every caller's
        # frames onto its traceback (and keep them alive) for as long as it is cached.
        raise Unsupported(hit.reason, hit.where, hit.snippet)
    return hit


def _builtin_text(fn: Any) -> str | None:
    name = _BUILTIN_IDS.get(id(fn))
    if name in ("abs", "int", "float", "bool", "round"):
        return name
    mod = getattr(fn, "__module__", None)
    nm = getattr(fn, "__name__", None)
    if mod == "math" and nm and getattr(math, nm, None) is fn:
        return f"math.{nm}"
    return None


def _describe(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    kind = type(fn).__name__
    return f"`{name}` ({kind})" if name else f"a {kind}"


def _make_template(fn: Callable[..., Any], arity: int) -> Template:
    text = _builtin_text(fn)
    if text is not None:
        if arity != 1:
            raise Unsupported(f"`{text}` takes one argument here, the stage passes {arity}")
        args = ["_fi_v"]
        return Template(args, None, "<builtin>", f"lambda _fi_v: {text}(_fi_v)", [], (0, 0))
    if not isinstance(fn, types.FunctionType):
        raise Unsupported(
            f"{_describe(fn)} is not Python source fastiter can compile "
            "(lambdas, functions returning one expression, abs/int/float/bool/round and "
            "math functions are)"
        )
    code = fn.__code__
    if code.co_flags & (inspect_CO_VARARGS | inspect_CO_VARKEYWORDS) or code.co_kwonlyargcount:
        raise Unsupported(f"{_describe(fn)} takes *args, **kwargs or keyword-only arguments")
    if code.co_flags & (0x80 | 0x100 | 0x200 | 0x20):  # coroutine, generator and friends
        raise Unsupported(f"{_describe(fn)} is a generator or coroutine")
    if code.co_argcount != arity:
        raise Unsupported(
            f"{_describe(fn)} takes {code.co_argcount} arguments; the stage passes {arity}"
        )
    filename, text, node = find_node(fn)
    where = f"{filename}:{node.lineno}:{node.col_offset + 1}"  # type: ignore[attr-defined]
    if isinstance(node, ast.Lambda):
        body: ast.expr = node.body
        args = _arg_names(node.args)
    else:
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        stmts = list(node.body)
        if (
            stmts
            and isinstance(stmts[0], ast.Expr)
            and isinstance(stmts[0].value, ast.Constant)
            and isinstance(stmts[0].value.value, str)
        ):
            stmts = stmts[1:]
        if len(stmts) != 1 or not isinstance(stmts[0], ast.Return) or stmts[0].value is None:
            return _def_template(fn, node, filename, text)
        body = stmts[0].value
        args = _arg_names(node.args)
    if len(args) != arity:
        raise Unsupported(
            f"the callable takes {len(args)} arguments, the stage passes {arity}", where
        )
    visitor = _FreeNames(args)
    visitor.visit(body)
    free = []
    for name, pos in visitor.found.items():
        cell = code.co_freevars.index(name) if name in code.co_freevars else None
        free.append((name, cell, pos))
    return Template(args, body, filename, text, free, (body.lineno, body.col_offset))


def _def_template(fn: Any, node: ast.AST, filename: str, text: str) -> Template:
    """A function with statements, compiled as a `def` of the pipeline language."""
    if not isinstance(node, ast.FunctionDef):
        raise Unsupported(f"`{fn.__qualname__}` is an async function")
    if node.args.defaults:
        d = node.args.defaults[0]
        raise Unsupported(
            f"`{node.name}` has default arguments, which are not compiled yet",
            f"{short_path(filename)}:{d.lineno}:{d.col_offset + 1}",
            caret_snippet(filename, d.lineno, d.col_offset),
        )
    code = fn.__code__
    args = _arg_names(node.args)
    visitor = _FreeNames(list(code.co_varnames) + args)
    for stmt in node.body:
        visitor.visit(stmt)
    free = [
        (name, code.co_freevars.index(name) if name in code.co_freevars else None, pos)
        for name, pos in visitor.found.items()
    ]
    tpl = Template(args, None, filename, text, free, (node.lineno, node.col_offset))
    tpl.defnode = node
    return tpl


def _def_text(tpl: Template, name: str) -> tuple[str, str, int, int]:
    """The `def` block of a template (its source, dedented), with where it starts in its file."""
    node = tpl.defnode
    if node is not None:
        seg = ast.get_source_segment(tpl.text, node) or ast.unparse(node)
        col = node.col_offset
        lines = seg.split("\n")
        lines = [lines[0]] + [ln[col:] if not ln[:col].strip() else ln for ln in lines[1:]]
        return ("\n".join(lines), tpl.filename, node.lineno, col)
    assert tpl.body is not None
    seg = ast.get_source_segment(tpl.text, tpl.body) or ast.unparse(tpl.body)
    seg = seg.replace("\n", " ") if "#" not in seg else ast.unparse(tpl.body)
    head = f"def {name}({', '.join(tpl.args)}):\n    return ("
    return (head + seg + ")", tpl.filename, tpl.body.lineno - 1, 0)


inspect_CO_VARARGS = 0x04
inspect_CO_VARKEYWORDS = 0x08

_MISSING = object()


def resolve(fn: Any, name: str, cell: int | None) -> Any:
    """The current value of a free name of ``fn`` (closure cell, global, builtin)."""
    if cell is not None:
        try:
            return fn.__closure__[cell].cell_contents
        except (ValueError, IndexError, TypeError):
            return _MISSING
    g = fn.__globals__
    v = g.get(name, _MISSING)
    if v is _MISSING:
        b = g.get("__builtins__", builtins)
        v = b.get(name, _MISSING) if isinstance(b, dict) else getattr(b, name, _MISSING)
    return v


def classify(value: Any) -> tuple[str, str]:
    """How a free name's value enters the pipeline text: ('param', type), ('math', ''),
    ('builtin', name), ('mathfn', name), or ('bad', description)."""
    t = PARAM_TYPES.get(type(value))
    if t is not None:
        return ("param", t)
    if value is math:
        return ("math", "")
    name = _BUILTIN_IDS.get(id(value))
    if name is not None:
        return ("builtin", name)
    if getattr(value, "__module__", None) == "math":
        nm = getattr(value, "__name__", "")
        if getattr(math, nm, None) is value:
            return ("mathfn", nm)
    if value is _MISSING:
        return ("bad", "is not defined")
    if isinstance(value, types.FunctionType):
        return ("func", value.__code__)  # type: ignore[return-value]
    return ("bad", f"is {_value_kind(value)}, not a number")


def _value_kind(value: Any) -> str:
    if isinstance(value, types.FunctionType):
        return f"a Python function ({value.__qualname__}); calling functions from a stage is not compiled yet"
    if isinstance(value, types.ModuleType):
        return f"the module {value.__name__}"
    if isinstance(value, (int, float)):
        return f"a {type(value).__module__}.{type(value).__qualname__} (an int/float subclass)"
    return f"a {type(value).__name__}"


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, ast.expr], bound: list[str]) -> None:
        self.mapping = mapping
        self.bound = [set(bound)]

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.mapping and not any(node.id in b for b in self.bound):
            return ast.copy_location(self.mapping[node.id], node)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        self.bound.append(set(_arg_names(node.args)))
        node.body = self.visit(node.body)
        self.bound.pop()
        return node


class StageText:
    """One callable, translated for one resolution of its free names."""

    __slots__ = ("defs", "filename", "getters", "params", "raw", "segment_origin", "text")

    def __init__(self) -> None:
        self.text = ""
        self.params: list[tuple[str, str]] = []  # (pipeline name, type)
        self.getters: list[tuple[str, int | None]] = []  # how to read each param's value
        self.filename = ""
        self.segment_origin: tuple[int, int] | None = None  # file (line, col) of text[body]
        self.raw = 0  # offset in `text` where the raw source segment starts, when raw
        # `def` blocks the text needs: (source, file, line, column of `def` in the file)
        self.defs: list[tuple[str, str, int, int]] = []


def stage_text(
    tpl: Template, fn: Any, kinds: tuple[tuple[str, str], ...], taken: dict[str, Any]
) -> StageText:
    """Translate ``tpl`` given the kinds of its free names. ``taken`` maps parameter names
    already used by earlier stages to the identity of their binding, so that two closures
    with a same-named variable get distinct parameters."""
    out = StageText()
    out.filename = tpl.filename
    if tpl.body is None and tpl.defnode is None:
        out.text = tpl.text
        return out
    rename: dict[str, ast.expr] = {}
    for (name, cell, pos), (kind, detail) in zip(tpl.free, kinds):
        where = f"{short_path(tpl.filename)}:{pos[0]}:{pos[1] + 1}"
        if kind == "func":
            _add_def(out, resolve(fn, name, cell), name, taken, where)
            continue
        if tpl.defnode is not None and (
            kind == "mathfn" or (kind in ("math", "builtin") and name != (detail or "math"))
        ):
            raise Unsupported(
                f"`{name}` is another name for {'math.' + detail if kind == 'mathfn' else detail or 'math'}"
                "; inside a def, write the name itself",
                where,
                caret_snippet(tpl.filename, pos[0], pos[1]),
            )
        if kind == "bad":
            raise Unsupported(
                f"`{name}` {detail}",
                f"{tpl.filename}:{pos[0]}:{pos[1] + 1}",
                caret_snippet(tpl.filename, pos[0], pos[1]),
            )
        if kind == "param":
            binding = (id(fn.__closure__[cell]) if cell is not None else id(fn.__globals__), name)
            pname = name
            n = 1
            while pname in taken and taken[pname] != binding:
                n += 1
                pname = f"{name}_{n}"
            if pname != name and tpl.defnode is not None:
                raise Unsupported(
                    f"`{name}` names different numbers in two functions of this pipeline",
                    where,
                    caret_snippet(tpl.filename, pos[0], pos[1]),
                )
            taken[pname] = binding
            if pname != name:
                rename[name] = ast.Name(id=pname, ctx=ast.Load())
            out.params.append((pname, detail))
            out.getters.append((name, cell))
        elif kind == "math" and name != "math":
            rename[name] = ast.Name(id="math", ctx=ast.Load())
        elif kind == "builtin" and name != detail:
            rename[name] = ast.Name(id=detail, ctx=ast.Load())
        elif kind == "mathfn":
            rename[name] = ast.Attribute(
                value=ast.Name(id="math", ctx=ast.Load()), attr=detail, ctx=ast.Load()
            )
    if tpl.defnode is not None:
        name = tpl.defnode.name
        _claim_def(name, fn.__code__, taken, None)
        out.defs.append(_def_text(tpl, name))
        out.text = name
        return out
    head = f"lambda {', '.join(tpl.args)}: "
    if not rename:
        seg = ast.get_source_segment(tpl.text, tpl.body)
        if seg is not None:
            # Brackets keep a body that spans lines, or ends in a comment, one expression.
            out.text = f"{head}({seg}\n)" if "#" in seg else f"{head}({seg})"
            out.raw = len(head) + 1
            out.segment_origin = (tpl.body.lineno, tpl.body.col_offset)
            return out
    body = _Rename(rename, tpl.args).visit(_copy(tpl.body))
    ast.fix_missing_locations(body)
    out.text = head + ast.unparse(body)
    return out


def _claim_def(name: str, code: Any, taken: dict[str, Any], where: str | None) -> bool:
    """Reserve a def name for one function; False when that function already has it."""
    held = taken.get(("def", name))  # type: ignore[call-overload]
    if held is code:
        return False
    if held is not None:
        raise Unsupported(f"two different functions named `{name}` in one pipeline", where)
    taken[("def", name)] = code  # type: ignore[index]
    return True


def _add_def(out: StageText, callee: Any, name: str, taken: dict[str, Any], where: str) -> None:
    """Add a function a stage calls (and those it calls) as defs of the pipeline text."""
    if callee.__name__ != name:
        raise Unsupported(
            f"`{name}` is the function `{callee.__name__}` under another name; call it by its own",
            where,
        )
    if not _claim_def(name, callee.__code__, taken, where):
        return
    tpl = template_for(callee, callee.__code__.co_argcount)
    if tpl.body is None and tpl.defnode is None:
        raise Unsupported(f"`{name}` is not Python source fastiter can compile", where)
    for fname, cell, pos in tpl.free:
        value = resolve(callee, fname, cell)
        kind, detail = classify(value)
        at = f"{short_path(tpl.filename)}:{pos[0]}:{pos[1] + 1}"
        if kind == "func":
            _add_def(out, value, fname, taken, at)
        elif kind == "param":
            raise Unsupported(
                f"`{name}`, called from a stage, reads the variable `{fname}`: functions a stage "
                "calls get numbers through their arguments only (for now)",
                at,
                caret_snippet(tpl.filename, pos[0], pos[1]),
            )
        elif kind == "bad":
            raise Unsupported(
                f"`{fname}` {detail}", at, caret_snippet(tpl.filename, pos[0], pos[1])
            )
        elif kind == "mathfn" or (kind in ("math", "builtin") and fname != (detail or "math")):
            raise Unsupported(
                f"`{fname}` is another name for a builtin or math; write the name itself", at
            )
    out.defs.append(_def_text(tpl, name))


def _copy(node: ast.expr) -> ast.expr:
    return copy.deepcopy(node)


def file_position(st: StageText, offset: int) -> tuple[str, int, int] | None:
    """Where ``offset`` (in ``st.text``) is in the user's file, for a raw segment."""
    if st.segment_origin is None or offset < st.raw:
        return None
    rel = st.text[st.raw : offset]
    line, col = st.segment_origin
    nl = rel.count("\n")
    if nl:
        return (st.filename, line + nl, len(rel) - rel.rfind("\n") - 1)
    return (st.filename, line, col + len(rel))


def short_path(filename: str) -> str:
    try:
        rel = os.path.relpath(filename)
    except ValueError:
        return filename
    return rel if not rel.startswith("..") else filename
