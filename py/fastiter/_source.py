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
import bisect
import builtins
import copy
import functools
import linecache
import math
import os
import re
import threading
import types
from collections import OrderedDict
from typing import Any, Callable

# The builtins the pipeline language knows, by name.
BUILTIN_NAMES = (
    "abs",
    "min",
    "max",
    "int",
    "float",
    "bool",
    "round",
    "range",
    "sum",
    "any",
    "all",
    "divmod",
    "pow",
)
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


def caret_snippet(filename: str, line: int, col: int, text: str | None = None) -> str:
    """The source line and a caret under column ``col`` (0-based), from ``text`` when given
    (the source a template was made from: a cell's pseudo-file may hold newer text since)."""
    if text is not None:
        lines = text_lines(text)
        src = lines[line - 1] if 1 <= line <= len(lines) else ""
    else:
        src = linecache.getline(filename, line)
    src = src.rstrip("\n")
    if not src:
        return ""
    return f"    {src}\n    {' ' * col}^"


# A line as the parser (and ast.get_source_segment) splits a text: at \r\n, \r and \n only.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


# Per text, not per call: every stage and def of a file reads the same (long) text, and a
# split is as long as the file. The text is the key: its hash is kept by the string itself.
@functools.lru_cache(maxsize=32)
def _parser_lines(text: str) -> list[str]:
    return _LINE.findall(text)  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=32)
def text_lines(text: str) -> list[str]:
    """``text.split("\\n")`` (shared: never modify it)."""
    return text.split("\n")


def source_segment(text: str, node: ast.AST) -> str | None:
    """What :func:`ast.get_source_segment` gives, splitting ``text`` once rather than at
    every call."""
    try:
        if node.end_lineno is None or node.end_col_offset is None:  # type: ignore[attr-defined]
            return None
        line, end_line = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
        col, end_col = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
    except AttributeError:
        return None
    # The parser also ends lines at a lone \r: only such a text needs its slower split.
    lines, sep = (_parser_lines(text), "") if "\r" in text else (text_lines(text), "\n")
    if end_line == line:
        return lines[line].encode()[col:end_col].decode()
    first = lines[line].encode()[col:].decode()
    last = lines[end_line].encode()[:end_col].decode()
    return sep.join([first, *lines[line + 1 : end_line], last])


# --- Parsing source files -------------------------------------------------------------------

_tree_lock = threading.Lock()
# Keyed by the file's whole text, not only its name: the source of an IPython/Jupyter cell or
# of an input at CPython's prompt lives in `linecache` under a pseudo-file name whose entry a
# front end may replace (a cell edited and run again under the same name), and a stale tree
# must never be searched for a function compiled from the new text. Least recently used first.
_sources: OrderedDict[tuple[str, str], _Source] = OrderedDict()
# A file's trees cost a few MB for a few thousand lines; a program's pipelines live in a few.
_MAX_SOURCES = 16
# The source last found under each file name, with the very list `linecache` gave its lines
# in: while linecache gives that same list, the text is the same, and a chain's first call
# joins and hashes nothing as long as the file.
_latest: dict[str, tuple[list[str], _Source]] = {}
# Whole module texts parsed in this process, and lines parsed in all (a statement on its own
# or a whole module): each line of a text once, however many chains it holds (tests read both).
_parses = 0
_parsed_lines = 0


def _source_lines(code: types.CodeType, module_globals: dict | None) -> list[str]:
    """The lines of the file ``code`` was compiled from, as :mod:`linecache` has them.

    Files on disk, and the pseudo-files IPython/Jupyter cells and CPython 3.13's prompt register
    by name (``<ipython-input-3-...>``, ``/tmp/ipykernel_.../123.py``, ``<python-input-4>``,
    ``<stdin>-2``); CPython 3.14's prompt registers its inputs by code object instead."""
    lines = linecache.getlines(code.co_filename, module_globals)
    if not lines:
        by_code = getattr(linecache, "_getlines_from_code", None)
        if by_code is not None:
            try:
                lines = by_code(code)
            except Exception:  # noqa: BLE001 - a private helper: no source is the answer
                lines = []
    return lines


# The pseudo-files IPython's timing magics compile their statement under, keeping no source.
_IPYTHON_TIMING_FILES = ("<magic-timeit>", "<timed exec>", "<timed eval>")


def _source_of(code: types.CodeType, module_globals: dict | None) -> _Source:
    """The text of the file ``code`` was compiled from, as it is now."""
    filename = code.co_filename
    lines = _source_lines(code, module_globals)
    if not lines:
        if filename in _IPYTHON_TIMING_FILES:
            raise Unsupported(
                "its source code is not available: IPython's %time and %timeit compile their "
                "statement without keeping its source; build the pipeline in the cell "
                "(`p = par_range(...)...`) and time its consumer (`%timeit p.sum()`)"
            )
        raise Unsupported(
            "its source code is not available (defined in a string passed to exec/eval, "
            "or in an interactive session without source)"
        )
    latest = _latest.get(filename)
    if latest is not None and latest[0] is lines:
        return latest[1]
    text = "".join(lines)
    key = (filename, text)
    with _tree_lock:
        src = _sources.get(key)
        if src is not None:
            _sources.move_to_end(key)
        else:
            src = _sources[key] = _Source(filename, text, lines)
            while len(_sources) > _MAX_SOURCES:
                (old_name, _), old = _sources.popitem(last=False)
                if _latest.get(old_name, (None, None))[1] is old:
                    del _latest[old_name]
        _latest[filename] = (lines, src)
    return src


def _parse(text: str, filename: str, lines: int) -> ast.Module:
    global _parsed_lines
    tree = ast.parse(text, filename)
    _parsed_lines += lines
    return tree


def _refresh(filename: str) -> bool:
    """Whether :mod:`linecache` held stale lines of ``filename`` (a module edited and reloaded
    since they were read): they are dropped, to be read again."""
    entry = linecache.cache.get(filename)
    linecache.checkcache(filename)
    return linecache.cache.get(filename) is not entry


def _first_line(node: Any) -> int:
    """The first line of a statement, its decorators included."""
    decorators = getattr(node, "decorator_list", None)
    if decorators:
        return min(node.lineno, *(d.lineno for d in decorators))
    return node.lineno  # type: ignore[no-any-return]


_MATCH_CASE: Any = getattr(ast, "match_case", ())


class _Source:
    """One text of a source file: the top-level statement that holds a function, parsed on
    its own (each once), and the whole module, parsed once, only when that is not enough.

    A statement on its own is found from the lines alone: it starts at the function's first
    line or the nearest above it that begins in column 0 (with neither a comment, a closing
    bracket nor an `else`-like clause), and ends before the next such line. A guess, which a
    string or a backslash can fool: a candidate from it is accepted only when it compiles to
    the function's bytecode (as every candidate), and the whole module is parsed when none
    does."""

    __slots__ = (
        "_full",
        "_guessed",
        "_imports",
        "_parts",
        "_start_of",
        "filename",
        "lines",
        "text",
    )

    def __init__(self, filename: str, text: str, lines: list[str]) -> None:
        self.filename = filename
        self.text = text
        self.lines = lines
        self._full: _Index | None = None
        self._imports: list[ast.stmt] | None = None
        self._guessed: list[ast.stmt] | None = None
        self._parts: dict[int, _Index | None] = {}  # first line -> its statement (None: no)
        self._start_of: dict[int, int] = {}  # line -> the first line of its statement

    def full(self) -> _Index:
        """The whole module, parsed once."""
        global _parses
        if self._full is None:
            try:
                tree = _parse(self.text, self.filename, len(self.lines))
            except SyntaxError as e:
                raise Unsupported(f"its source file does not parse: {e}") from None
            _parses += 1
            self._full = _Index(tree)
        return self._full

    def imports(self) -> list[ast.stmt]:
        """The module-scope imports, exactly (from the whole module)."""
        if self._imports is None:
            self._imports = _module_imports(self.full().tree)
        return self._imports

    def guessed_imports(self) -> list[ast.stmt]:
        """The import statements of the text, found by their lines: those at module scope,
        and perhaps some of a function's (a guess that the bytecode check settles)."""
        if self._guessed is None:
            out: list[ast.stmt] = []
            text = self.text
            # str.find runs at memory speed: no per-line work in Python over the whole text.
            i = text.find("import")
            while i >= 0:
                start = text.rfind("\n", 0, i) + 1
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                head = text[start:i].strip()
                if not head or _FROM.fullmatch(head):
                    chunk = text[start:end].strip()
                    if "(" in chunk and ")" not in chunk:  # `from m import (a,\n b)`
                        close = text.find(")", end)
                        chunk = text[start : close + 1].strip() if close >= 0 else chunk
                    try:
                        body = ast.parse(chunk).body
                    except (SyntaxError, ValueError):
                        body = []  # prose in a string, or a form this guess does not follow
                    out.extend(_module_imports(ast.Module(body=body, type_ignores=[])))
                i = text.find("import", end)
            self._guessed = out
        return self._guessed

    def part(self, line: int) -> _Index | None:
        """The top-level statement holding ``line``, parsed on its own; None where the lines
        do not tell it."""
        lines = self.lines
        if not 1 <= line <= len(lines):
            return None  # a function of a longer, older text of the file
        # Back to the line that starts the statement, each line looked at once per text.
        start, seen = line, []
        while start not in self._start_of and start > 1 and not _starts_statement(lines, start):
            seen.append(start)
            start -= 1
        start = self._start_of.get(start, start)
        for n in seen:
            self._start_of[n] = start
        if start in self._parts:
            return self._parts[start]
        found = None
        end = line + 1
        for _ in range(4):  # a decorator line is not a whole statement: take the next too
            while end <= len(lines) and not _starts_statement(lines, end):
                end += 1
            text = "\n" * (start - 1) + "".join(lines[start - 1 : end - 1])
            try:
                found = _Index(_parse(text, self.filename, end - start))
                break
            except (SyntaxError, ValueError):  # ValueError: a null byte, before 3.12
                if end > len(lines):
                    break
                end += 1
        self._parts[start] = found
        return found


# Lines that begin a statement of their own in column 0: not indented, a comment, a closing
# bracket or the clause of a compound statement above.
_NOT_A_START = re.compile(r"[ \t\r\n#)\]}]|(?:else|elif|except|finally)\b")
_FROM = re.compile(r"from\s+[\w.]+")


def _starts_statement(lines: list[str], n: int) -> bool:
    """Whether line ``n`` (from 1) begins a top-level statement, as far as its text tells."""
    text = lines[n - 1]
    if not text or _NOT_A_START.match(text):
        return False
    return n == 1 or not lines[n - 2].rstrip("\r\n").endswith("\\")


class _Index:
    """The lambdas and defs of a parsed tree, found by position.

    It fills lazily, a line at a time: the nodes starting on a line are found by descending
    only into the statements that hold that line (a bisection of each statement list on the
    way), walking each statement's own expressions once. Finding a function costs what its
    statement holds, not what the tree holds."""

    __slots__ = ("_blocks", "_done", "_starts", "defs", "lambdas", "tree")

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        # (first line, argument names) -> the lambdas there; (name, line of the def or of
        # one of its decorators) -> the defs there.
        self.lambdas: dict[tuple[int, tuple[str, ...]], list[ast.Lambda]] = {}
        self.defs: dict[tuple[str, int], list[ast.AST]] = {}
        self._done: set[int] = set()  # lines indexed
        # Keyed by id(): the tree, kept alive here, keeps each id to one object.
        self._starts: dict[int, list[int]] = {}  # statement list -> its statements' first lines
        self._blocks: dict[int, list[list[Any]]] = {}  # statement -> its statement lists

    def lambdas_at(self, line: int, names: tuple[str, ...]) -> list[ast.Lambda]:
        self._index(line)
        return sorted(self.lambdas.get((line, names), ()), key=lambda n: n.col_offset)

    def defs_at(self, name: str, line: int) -> list[ast.AST]:
        self._index(line)
        return list(self.defs.get((name, line), ()))

    def top_statement(self, node: ast.AST) -> list[ast.stmt]:
        """The module-level statement that holds ``node`` (a list of one, or empty)."""
        span = _span(node)
        holding = self._holding(self.tree.body, span[0])
        return [s for s in holding if _contains(_span(s), span)][:1]

    def _index(self, line: int) -> None:
        if line not in self._done:
            self._descend(self.tree.body, line)
            self._done.add(line)

    def _holding(self, stmts: list[Any], line: int) -> list[Any]:
        """The statements of a list whose lines hold ``line``: a run ending at the last one
        starting at or before it, as a list's statements follow one another."""
        starts = self._starts.get(id(stmts))
        if starts is None:
            starts = self._starts[id(stmts)] = [_first_line(s) for s in stmts]
        end = bisect.bisect_right(starts, line)
        i = end
        while i > 0 and (stmts[i - 1].end_lineno or stmts[i - 1].lineno) >= line:
            i -= 1
        return stmts[i:end]

    def _descend(self, stmts: list[Any], line: int) -> None:
        for s in self._holding(stmts, line):
            blocks = self._blocks.get(id(s))
            if blocks is None:
                blocks = self._blocks[id(s)] = self._visit(s)
            for b in blocks:
                self._descend(b, line)

    def _visit(self, node: ast.AST) -> list[list[Any]]:
        """Index a statement's own expressions (and itself, a def); its statement lists."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for line in {node.lineno, *(d.lineno for d in node.decorator_list)}:
                self.defs.setdefault((node.name, line), []).append(node)
        blocks: list[list[Any]] = []
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                if value and isinstance(value[0], (ast.stmt, ast.excepthandler)):
                    blocks.append(value)
                    continue
                for v in value:
                    if isinstance(v, _MATCH_CASE):
                        blocks.extend(self._visit(v))  # no position of its own: its body
                    elif isinstance(v, ast.AST):
                        self._walk(v)
            elif isinstance(value, ast.AST):
                self._walk(value)
        return blocks

    def _walk(self, expr: ast.AST) -> None:
        # Expressions hold no statements: every lambda below is indexed here.
        for n in ast.walk(expr):
            if isinstance(n, ast.Lambda):
                self.lambdas.setdefault((n.lineno, tuple(_arg_names(n.args))), []).append(n)


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
    try:
        return _search(code, _source_of(code, fn.__globals__))
    except Unsupported:
        # A module edited and reloaded (importlib.reload, autoreload) after linecache read
        # it: its new functions are in the file as it is now.
        if not _refresh(code.co_filename):
            raise
    return _search(code, _source_of(code, fn.__globals__))


def _search(code: types.CodeType, src: _Source) -> tuple[str, str, ast.AST]:
    filename = code.co_filename
    first = code.co_firstlineno
    part = src.part(first)
    if part is not None:
        found = [
            n
            for n in _at(code, part)
            if _compiles_to(n, code, filename, src.guessed_imports() if _reads_imports(n) else [])
        ]
        if found:
            return filename, src.text, _innermost(code, found)
    index = src.full()
    cands = _at(code, index)
    if not cands:
        if code.co_name == "<lambda>":
            raise Unsupported(f"its source was not found at line {first} of {filename}")
        raise Unsupported(f"the source of `{code.co_name}` was not found in {filename}")
    return filename, src.text, _innermost(code, _matching(cands, code, filename, first, src))


def _at(code: types.CodeType, index: _Index) -> list[ast.AST]:
    """The lambdas or defs where ``code`` starts, by line and argument names or name."""
    if code.co_name == "<lambda>":
        return list(index.lambdas_at(code.co_firstlineno, code.co_varnames[: code.co_argcount]))
    return index.defs_at(code.co_name, code.co_firstlineno)


def _innermost(code: types.CodeType, cands: list[ast.AST]) -> ast.AST:
    """Of candidates that all compile to ``code``, the one its instructions' span names."""
    if len(cands) > 1:
        span = _code_span(code)
        if span is not None:
            inside = [n for n in cands if _contains(_span(n), span)]
            # The innermost lambda that holds every instruction of this code.
            inside.sort(key=lambda n: (_span(n)[2] - _span(n)[0], _span(n)[3] - _span(n)[1]))
            cands = inside[:1] if inside else cands
    if len(cands) > 1:
        # No positions (before 3.11): a lambda holding another candidate also "compiles to"
        # the code, through the code object nested in it; the code is the innermost's (an
        # outer lambda's own code never appears inside the inner one).
        spans = [_span(n) for n in cands]
        cands = [
            n for n, sp in zip(cands, spans) if not any(o != sp and _contains(sp, o) for o in spans)
        ] or cands
    # Several left: they all compile to this very bytecode, so any of them is this code.
    return cands[0]


def _reads_imports(node: ast.AST) -> bool:
    """Whether ``node`` calls a method of a name, which CPython 3.11 compiles differently
    when that name was imported at module level."""
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name)
        for n in ast.walk(node)
    )


def _matching(
    cands: list[ast.AST], code: types.CodeType, filename: str, line: int, src: _Source
) -> list[ast.AST]:
    imports = src.imports()
    found = [n for n in cands if _compiles_to(n, code, filename, imports)]
    if not found:
        # IPython/Jupyter and CPython 3.13's prompt compile each top-level statement of a cell
        # (or of one input) on its own: then only the imports of the candidate's own statement
        # were module-level imports when its code was compiled.
        for n in cands:
            own = _module_imports(ast.Module(body=src.full().top_statement(n), type_ignores=[]))
            # `own` is a subset of `imports`: the same list when it is as long.
            if len(own) != len(imports) and _compiles_to(n, code, filename, own):
                found.append(n)
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


def _const_key(c: Any) -> Any:
    if isinstance(c, types.CodeType):
        return _code_key(c)
    if isinstance(c, str) and ".<locals>." in c:
        # Up to 3.10 a nested function's qualname is a constant of its parent: compiled inside
        # the wrapper it reads `_fi_wrap.<locals>...`, so compare its own name only.
        return ("qualname", c.rsplit(".<locals>.", 1)[1])
    return (type(c).__name__, repr(c))


def _code_key(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(_const_key(c) for c in code.co_consts)
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
    # No deep copy (most of this check's time): compiling never changes the tree it reads,
    # and fix_missing_locations only fills in the new nodes, as the parsed ones have theirs.
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        node = copy.copy(node)
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
        # `range(...).method(...)`: the pipeline language reads it as a nested pipeline, Python
        # raises AttributeError (a nested pipeline is written `par_range(...)...`).
        self.range_method: str | None = None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        v = node.value
        if (
            self.range_method is None
            and isinstance(v, ast.Call)
            and isinstance(v.func, ast.Name)
            and v.func.id == "range"
            and not any("range" in b for b in self.bound)
        ):
            self.range_method = node.attr
        self.generic_visit(node)

    def check(self) -> None:
        if self.range_method is not None:
            raise Unsupported(
                f"`range(...).{self.range_method}` raises AttributeError in Python: a nested "
                "pipeline is written `par_range(...)`"
            )

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and not any(node.id in b for b in self.bound):
            self.found.setdefault(node.id, (node.lineno, node.col_offset))

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for d in node.args.defaults:
            self.visit(d)
        self.bound.append(set(_arg_names(node.args)) | _walrus_targets(node.body))
        self.visit(node.body)
        self.bound.pop()

    def _comprehension(self, node: Any, parts: list[ast.expr]) -> None:
        # The first iterable is evaluated outside the comprehension's scope; its targets
        # bind the rest.
        gens = node.generators
        self.visit(gens[0].iter)
        self.bound.append(_comp_targets(node))
        for i, g in enumerate(gens):
            if i:
                self.visit(g.iter)
            for c in g.ifs:
                self.visit(c)
        for p in parts:
            self.visit(p)
        self.bound.pop()

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._comprehension(node, [node.elt])

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, [node.elt])

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self._comprehension(node, [node.elt])

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


def _comp_targets(node: Any) -> set[str]:
    """The names a comprehension's `for` clauses bind."""
    return {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}


def _walrus_targets(body: ast.AST) -> set[str]:
    """The names `:=` binds in a lambda's body (comprehensions included: their `:=` binds in
    the enclosing scope)."""
    return {
        n.target.id
        for n in ast.walk(body)
        if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)
    }


_template_lock = threading.Lock()
# Held while building ASTs or compiling them: CPython 3.11's ast module keeps a recursion counter
# that concurrent parses from several threads corrupt ("SystemError: AST constructor recursion
# depth mismatch"), so fastiter never parses, unparses or compiles ASTs on two threads at once.
AST_LOCK = threading.RLock()
_templates: dict[Any, Any] = {}


def template_for(fn: Callable[..., Any], arity: int) -> Template:
    """The template of ``fn`` as a function of ``arity`` arguments (cached per code object)."""
    if isinstance(fn, types.FunctionType):
        # Code objects compare equal across files (the same line, columns and bytecode): a
        # lambda typed in a cell or at the prompt, where every input starts at line 1, must
        # not take the template, or the refusal, of one compiled from another file or a string.
        code = fn.__code__
        key: Any = (code, code.co_filename, arity)
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
            # The oldest go first, never all at once: a function whose file has changed since
            # (an edited cell) keeps compiling from the text it was made from while it is here.
            while len(_templates) >= 256:
                del _templates[next(iter(_templates))]
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
    pair = _BUILTIN_IDS.get(id(fn))
    if pair in ("min", "max") and arity == 2:
        # `reduce(identity, max)`: the builtin of two values.
        args = ["_fi_a", "_fi_b"]
        text = f"lambda _fi_a, _fi_b: {pair}(_fi_a, _fi_b)"
        return Template(args, None, "<builtin>", text, [], (0, 0))
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
    ndefaults = len(fn.__defaults__ or ())
    if not code.co_argcount - ndefaults <= arity <= code.co_argcount:
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
    if not len(args) - ndefaults <= arity <= len(args):
        raise Unsupported(
            f"the callable takes {len(args)} arguments, the stage passes {arity}", where
        )
    visitor = _FreeNames(args + sorted(_walrus_targets(body)))
    visitor.visit(body)
    visitor.check()
    free = []
    for name, pos in visitor.found.items():
        cell = code.co_freevars.index(name) if name in code.co_freevars else None
        free.append((name, cell, pos))
    return Template(args, body, filename, text, free, (body.lineno, body.col_offset))


def _def_template(fn: Any, node: ast.AST, filename: str, text: str) -> Template:
    """A function with statements, compiled as a `def` of the pipeline language."""
    if not isinstance(node, ast.FunctionDef):
        raise Unsupported(f"`{fn.__qualname__}` is an async function")
    code = fn.__code__
    args = _arg_names(node.args)
    # A local a comprehension reads is a cell of the function (3.11 and before).
    visitor = _FreeNames(list(code.co_varnames) + list(code.co_cellvars) + args)
    for stmt in node.body:
        visitor.visit(stmt)
    visitor.check()
    free = [
        (name, code.co_freevars.index(name) if name in code.co_freevars else None, pos)
        for name, pos in visitor.found.items()
    ]
    tpl = Template(args, None, filename, text, free, (node.lineno, node.col_offset))
    tpl.defnode = node
    return tpl


def _def_text(
    tpl: Template, name: str, dnames: list[str] | tuple[str, ...] = ()
) -> tuple[str, str, int, int]:
    """The `def` block of a template (its source, dedented), with where it starts in its file.
    ``dnames`` replace the default values' source (the parameters that hold them)."""
    node = tpl.defnode
    if node is not None:
        lines = text_lines(tpl.text)[node.lineno - 1 : node.end_lineno]
        blines = [ln.encode() for ln in lines]
        end_col = node.end_col_offset or len(blines[-1])
        defaults = list(node.args.defaults)
        for d, new in sorted(zip(defaults, dnames), key=lambda p: (p[0].lineno, p[0].col_offset))[
            ::-1
        ]:
            i, j = d.lineno - node.lineno, (d.end_lineno or d.lineno) - node.lineno
            if i != j:
                raise Unsupported(f"a default value of `{name}` spans lines")
            b = blines[i]
            blines[i] = b[: d.col_offset] + new.encode() + b[d.end_col_offset :]
            if i == len(blines) - 1:
                end_col += len(new.encode()) - ((d.end_col_offset or 0) - d.col_offset)
        blines[-1] = blines[-1][:end_col]
        blines[0] = blines[0][node.col_offset :]
        col = node.col_offset
        out = [ln.decode() for ln in blines]
        out = [out[0]] + [ln[col:] if not ln[:col].strip() else ln for ln in out[1:]]
        text = "\n".join(out)
        if node.name != name:
            raise Unsupported(f"`{name}` is defined as `{node.name}`")
        return (text, tpl.filename, node.lineno, col)
    assert tpl.body is not None
    seg = source_segment(tpl.text, tpl.body) or ast.unparse(tpl.body)
    seg = seg.replace("\n", " ") if "#" not in seg else ast.unparse(tpl.body)
    args = list(tpl.args)
    for k, dn in enumerate(dnames):
        i = len(args) - len(dnames) + k
        args[i] = f"{args[i]}={dn}"
    head = f"def {name}({', '.join(args)}):\n    return ("
    return (head + seg + ")", tpl.filename, tpl.body.lineno - 1, 0)


inspect_CO_VARARGS = 0x04
inspect_CO_VARKEYWORDS = 0x08

_MISSING = object()


def resolve(fn: Any, name: str, cell: int | None) -> Any:
    """The current value of a free name of ``fn`` (closure cell, global, builtin); a function
    decorated with ``@fastiter.compile`` stands for the function it wraps."""
    v = resolve_raw(fn, name, cell)
    return getattr(v, "_fi_function", v)


def resolve_raw(fn: Any, name: str, cell: int | None) -> Any:
    """The object a free name of ``fn`` is bound to now."""
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
    from fastiter import _pipeline

    if value is _pipeline.par_range:
        # A nested pipeline inside a stage: the language's `par_range(...)...consumer()`.
        return ("builtin", "par_range")
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
        self.bound.append(set(_arg_names(node.args)) | _walrus_targets(node.body))
        node.body = self.visit(node.body)
        self.bound.pop()
        return node

    def _comprehension(self, node: Any) -> ast.AST:
        gens = node.generators
        gens[0].iter = self.visit(gens[0].iter)
        self.bound.append(_comp_targets(node))
        for i, g in enumerate(gens):
            if i:
                g.iter = self.visit(g.iter)
            g.ifs = [self.visit(c) for c in g.ifs]
        for field in ("elt", "key", "value"):
            if hasattr(node, field):
                setattr(node, field, self.visit(getattr(node, field)))
        self.bound.pop()
        return node

    visit_GeneratorExp = _comprehension
    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_DictComp = _comprehension


class StageText:
    """One callable, translated for one resolution of its free names."""

    __slots__ = ("filename", "getters", "params", "raw", "segment_origin", "text")

    def __init__(self) -> None:
        self.text = ""
        self.params: list[tuple[str, str]] = []  # (pipeline name, type)
        self.getters: list[tuple[str, int | None]] = []  # how to read each param's value
        self.filename = ""
        self.segment_origin: tuple[int, int] | None = None  # file (line, col) of text[body]
        self.raw = 0  # offset in `text` where the raw source segment starts, when raw


def stage_text(
    tpl: Template,
    fn: Any,
    kinds: tuple[tuple[str, str], ...],
    taken: dict[str, Any],
    index: int = 0,
) -> StageText:
    """Translate ``tpl`` given the kinds of its free names. ``taken`` maps parameter names
    already used by earlier stages to the identity of their binding, so that two closures
    with a same-named variable get distinct parameters."""
    out = StageText()
    out.filename = tpl.filename
    if tpl.body is None and tpl.defnode is None:
        out.text = tpl.text
        return out
    prog = program_of(taken)
    if as_def(tpl, fn):
        out.text = prog.add_root(fn, index)
        return out
    rename: dict[str, ast.expr] = {}
    for (name, cell, pos), (kind, detail) in zip(tpl.free, kinds):
        where = f"{short_path(tpl.filename)}:{pos[0]}:{pos[1] + 1}"
        if kind == "func":
            value = resolve(fn, name, cell)
            prog._root, prog._hops = index, ()
            prog._guard(fn, name, cell, value)
            prog._hops = ((name, cell),)
            callee = prog.add_def(value, where)
            if callee != name:
                rename[name] = ast.Name(id=callee, ctx=ast.Load())
            continue
        if kind == "bad":
            raise Unsupported(
                f"`{name}` {detail}",
                f"{tpl.filename}:{pos[0]}:{pos[1] + 1}",
                caret_snippet(tpl.filename, pos[0], pos[1], tpl.text),
            )
        if kind == "param":
            # Never shared, even with a parameter bound to the same variable: whether two
            # lambdas read one variable is not part of the plan's key (closures of one code
            # object may or may not share a cell), so each reading gets its own parameter.
            pname = name
            n = 1
            while pname in taken:
                n += 1
                pname = f"{name}_{n}"
            taken[pname] = ("lambda", id(fn), name)
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
    head = f"lambda {', '.join(tpl.args)}: "
    if not rename:
        seg = source_segment(tpl.text, tpl.body)
        if seg is not None:
            # Brackets keep a body that spans lines, or ends in a comment, one expression.
            out.text = f"{head}({seg}\n)" if "#" in seg else f"{head}({seg})"
            out.raw = len(head) + 1
            out.segment_origin = (tpl.body.lineno, tpl.body.col_offset)
            return out
    body = _Rename(rename, tpl.args + sorted(_walrus_targets(tpl.body))).visit(_copy(tpl.body))
    ast.fix_missing_locations(body)
    out.text = head + ast.unparse(body)
    return out


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


# --- Whole programs: functions, the functions they call, and where their numbers come from ----

# A reference to a value, relative to a root function: the free names to follow from the root
# to the function that reads it (`hops`), then that function's free name and closure cell; or,
# with name "__defaults__", the default value at index `cell`.
Ref = tuple[tuple[tuple[str, "int | None"], ...], str, "int | None"]


def _builtins_dict(fn: Any) -> dict:
    b = fn.__globals__.get("__builtins__", builtins)
    return b if isinstance(b, dict) else b.__dict__


def slot_of(fn: Any, name: str, cell: int | None) -> tuple[tuple[Any, Any], list[Any]]:
    """Where a free name of ``fn`` is read (a native ``Caller`` slot), and the guards that
    must also hold (a builtin: no global of that name)."""
    if cell is not None:
        return (fn.__closure__[cell], None), []
    g = fn.__globals__
    if name in g:
        return (g, name), []
    return (_builtins_dict(fn), name), [((g, name), None)]


def read_ref(root: Any, ref: Ref) -> Any:
    """The current value a reference names (``_MISSING`` when it has none)."""
    hops, name, cell = ref
    fn = root
    for h, c in hops:
        fn = resolve(fn, h, c)
    if name == "__defaults__":
        try:
            return fn.__defaults__[cell]
        except (TypeError, IndexError, AttributeError):
            return _MISSING
    try:
        return resolve(fn, name, cell)
    except AttributeError:
        return _MISSING


class Program:
    """The ``def`` blocks a pipeline needs, and where their numbers come from.

    Each function is added once, as a ``def`` under its own name; the numbers it reads
    (globals, closure cells, default values) become parameters of the pipeline under the names
    its text uses, read at every call; the functions, ``math`` and builtins it reads are
    guards: the text holds only while each still names what it named when compiled. Both are
    kept twice: as absolute slots (for a native ``Caller`` of a fixed function) and as
    references relative to a root function (for stages, new closures at every call)."""

    def __init__(self, taken: dict[str, Any] | None = None) -> None:
        self.defs: list[tuple[str, str, int, int]] = []
        self.names: list[str] = []
        self.params: list[tuple[str, str]] = []
        self.sources: list[tuple[Any, Any]] = []
        self.guards: list[tuple[tuple[Any, Any], Any]] = []
        # (root index, ref) of each parameter, and (root index, ref, kind, expected) of guards.
        self.param_refs: list[tuple[int, Ref]] = []
        self.guard_refs: list[tuple[int, Ref, str, Any]] = []
        self.taken: dict[Any, Any] = taken if taken is not None else {}
        self._root = 0
        self._hops: tuple[tuple[str, int | None], ...] = ()

    @property
    def prefix(self) -> str:
        return "".join(d[0] + "\n" for d in self.defs)

    def prefix_text(self) -> str:
        return self.prefix

    # Guards and parameters ----------------------------------------------------------------

    def _guard(self, fn: Any, name: str, cell: int | None, value: Any) -> None:
        slot, extra = slot_of(fn, name, cell)
        self.guards.extend(extra)
        self.guards.append((slot, resolve_raw(fn, name, cell)))
        if isinstance(value, types.FunctionType):
            self.guard_refs.append((self._root, (self._hops, name, cell), "code", value.__code__))
        else:
            self.guard_refs.append((self._root, (self._hops, name, cell), "is", value))

    def guard_name(self, fn: Any, name: str, expected: Any) -> None:
        """Require the free name ``name`` of ``fn`` to be ``expected``."""
        cell = fn.__code__.co_freevars.index(name) if name in fn.__code__.co_freevars else None
        if resolve(fn, name, cell) is not expected:
            raise Unsupported(f"`{name}` is not {getattr(expected, '__qualname__', expected)}")
        self._guard(fn, name, cell, expected)

    def _param(
        self, pname: str, ty: str, binding: Any, slot: Any, ref: Ref, where: str | None
    ) -> None:
        held = self.taken.get(pname)
        if held is not None:
            if held != binding:
                raise Unsupported(
                    f"`{pname}` names different numbers in two functions of this pipeline", where
                )
            return
        self.taken[pname] = binding
        self.params.append((pname, ty))
        self.sources.append(slot)
        self.param_refs.append((self._root, ref))

    def free_name(self, fn: Any, name: str, pos: tuple[int, int]) -> str:
        """The text for a free name read by an expression of ``fn`` (a chain's lambdas):
        numbers become fresh parameters, functions defs, builtins and ``math`` themselves."""
        cell = fn.__code__.co_freevars.index(name) if name in fn.__code__.co_freevars else None
        value = resolve(fn, name, cell)
        kind, detail = classify(value)
        filename = fn.__code__.co_filename
        where = f"{short_path(filename)}:{pos[0]}:{pos[1] + 1}"
        if kind == "param":
            slot, extra = slot_of(fn, name, cell)
            self.guards.extend(extra)
            pname = f"_fi_g_{name}"
            self._param(pname, detail, (id(slot[0]), name), slot, (self._hops, name, cell), where)
            return pname
        if kind == "bad":
            raise Unsupported(f"`{name}` {detail}", where, caret_snippet(filename, *pos))
        self._guard(fn, name, cell, value)
        if kind == "func":
            return self.add_def(value, where)
        if kind == "math":
            return "math"
        if kind == "builtin":
            return detail
        return f"math.{detail}"

    # Defs ---------------------------------------------------------------------------------

    def add_root(self, fn: Any, index: int) -> str:
        """Add ``fn`` as the function reached from root ``index``; its def name."""
        self._root, self._hops = index, ()
        return self.add_def(fn, None)

    def add_def(self, fn: Any, where: str | None) -> str:
        """Add ``fn`` (and what it calls) as a def; its name in the text."""
        if not isinstance(fn, types.FunctionType):
            raise Unsupported(f"{_describe(fn)} is not Python source fastiter can compile", where)
        seen = self.taken.get(("fn", id(fn)))  # type: ignore[call-overload]
        if seen is not None and seen[0] is fn:
            return seen[1]
        name = fn.__name__
        if not name.isidentifier():
            name = f"_fi_f{len(self.names)}"
        held = self.taken.get(("def", name))  # type: ignore[call-overload]
        if held is not None:
            if held[0].__code__ is not fn.__code__:
                raise Unsupported(f"two different functions named `{name}` in one pipeline", where)
            raise Unsupported(
                f"two functions `{name}` of the same code (closures) in one pipeline", where
            )
        self.taken[("def", name)] = (fn,)  # type: ignore[index]
        self.taken[("fn", id(fn))] = (fn, name)  # type: ignore[index]
        code = fn.__code__
        if code.co_flags & (inspect_CO_VARARGS | inspect_CO_VARKEYWORDS) or code.co_kwonlyargcount:
            raise Unsupported(
                f"{_describe(fn)} takes *args, **kwargs or keyword-only arguments", where
            )
        tpl = template_for(fn, code.co_argcount)
        if tpl.body is None and tpl.defnode is None:
            raise Unsupported(f"`{name}` is not Python source fastiter can compile", where)
        for fname, cell, pos in tpl.free:
            value = resolve(fn, fname, cell)
            kind, detail = classify(value)
            at = f"{short_path(tpl.filename)}:{pos[0]}:{pos[1] + 1}"
            snippet = caret_snippet(tpl.filename, pos[0], pos[1], tpl.text)
            if kind == "bad":
                raise Unsupported(f"`{fname}` {detail}", at, snippet)
            if kind == "param":
                slot, extra = slot_of(fn, fname, cell)
                self.guards.extend(extra)
                self._param(
                    fname, detail, (id(slot[0]), fname), slot, (self._hops, fname, cell), at
                )
                continue
            if kind == "mathfn" or (kind in ("math", "builtin") and fname != (detail or "math")):
                raise Unsupported(
                    f"`{fname}` is another name for a builtin or math; write the name itself",
                    at,
                    snippet,
                )
            self._guard(fn, fname, cell, value)
            if kind == "func":
                outer = self._hops
                self._hops = (*outer, (fname, cell))
                try:
                    callee = self.add_def(value, at)
                finally:
                    self._hops = outer
                if callee != fname:
                    raise Unsupported(
                        f"`{fname}` is the function `{value.__name__}` under another name; "
                        "call it by its own",
                        at,
                        snippet,
                    )
        dnames = self._defaults(fn, name, tpl, where)
        self.defs.append(_def_text(tpl, name, dnames))
        self.names.append(name)
        return name

    def _defaults(self, fn: Any, name: str, tpl: Template, where: str | None) -> list[str]:
        """Default values as parameters (Python evaluated them once, at def time)."""
        defaults = fn.__defaults__ or ()
        out = []
        for j, value in enumerate(defaults):
            kind, detail = classify(value)
            if kind != "param":
                raise Unsupported(
                    f"a default value of `{name}` is {_value_kind(value)}, not a number", where
                )
            pname = f"_fi_{name}_d{j}"
            self._param(
                pname,
                detail,
                (id(fn), "__defaults__", j),
                (defaults, j),
                (self._hops, "__defaults__", j),
                where,
            )
            out.append(pname)
        if defaults:
            self.guards.append(((fn, "__defaults__"), defaults))
            self.guard_refs.append((self._root, (self._hops, "__defaults__", None), "is", None))
        return out

    # Per call ---------------------------------------------------------------------------------

    def values(self, roots: list[Any]) -> list[Any] | None:
        """The parameter values for functions reached from ``roots`` now, or None when a guard
        fails (the program no longer describes them)."""
        for root, ref, how, want in self.guard_refs:
            if ref[1] == "__defaults__":
                continue  # values are read below, and typed by the caller
            v = read_ref(roots[root], ref)
            if how == "code":
                if not isinstance(v, types.FunctionType) or v.__code__ is not want:
                    return None
            elif v is not want:
                return None
        out = []
        for root, ref in self.param_refs:
            v = read_ref(roots[root], ref)
            if v is _MISSING:
                return None
            out.append(v)
        return out


def stage_defs(
    tpl: Template, fn: Any, kinds: tuple[tuple[str, str], ...], taken: dict[str, Any], index: int
) -> None:
    """Add the defs a stage is or calls to the pipeline's program, before any lambda takes
    a parameter name: a def's text reads its numbers under their own names."""
    if tpl.body is None and tpl.defnode is None:
        return
    prog = program_of(taken)
    if as_def(tpl, fn):
        prog.add_root(fn, index)
        return
    for (name, cell, pos), (kind, _) in zip(tpl.free, kinds):
        if kind == "func":
            prog._root, prog._hops = index, ((name, cell),)
            where = f"{short_path(tpl.filename)}:{pos[0]}:{pos[1] + 1}"
            prog.add_def(resolve(fn, name, cell), where)


def program_of(taken: dict[Any, Any]) -> Program:
    """The program shared by the stages of one pipeline being translated."""
    prog = taken.get(("program",))  # type: ignore[call-overload]
    if prog is None:
        prog = taken[("program",)] = Program(taken)  # type: ignore[index]
    return prog


def as_def(tpl: Template, fn: Any) -> bool:
    """Whether a stage function goes into the text as a def (statements, defaults)."""
    return tpl.defnode is not None or bool(getattr(fn, "__defaults__", None))


def def_program(fn: Any) -> Program:
    """A program holding ``fn`` (when given) and the functions it calls, as defs."""
    prog = Program()
    if fn is not None:
        prog.add_root(fn, 0)
    return prog
