"""Type stubs for fastiter._native, the compiler and runtime as a PyO3 extension module."""

from collections.abc import Callable, Sequence
from typing import Any

class CompileError(Exception):
    """The pipeline text does not compile."""

    kind: str  # 'syntax', 'type', 'name' or 'unsupported'
    message: str
    line: int  # 1-based
    column: int  # 1-based
    rendered: str  # the message with the source line and a caret
    help: str | None

class Refused(Exception):
    """The compiled pipeline declined to produce a value (run it as plain Python instead)."""

class Kernel:
    """A compiled pipeline."""

    @property
    def ir(self) -> str: ...
    @property
    def compile_time(self) -> float: ...
    @property
    def from_cache(self) -> bool: ...
    @property
    def params(self) -> list[tuple[str, str]]: ...
    def run(
        self,
        params: Sequence[Any],
        buffer: Any | None = None,
        threads: int = 0,
        jit: bool = True,
        array: bool = False,
    ) -> Any: ...
    def call(self, args: tuple[Any, ...], extra: tuple[Any, ...] | None = None) -> Any:
        """Run with exactly-typed parameter values; NotImplemented when they do not fit."""

class Caller:
    """A kernel with where its other parameters come from and the bindings it relies on."""

    def __init__(
        self,
        kernel: Kernel,
        sources: Sequence[tuple[Any, Any]],
        guards: Sequence[tuple[tuple[Any, Any], Any]],
    ) -> None: ...
    @property
    def kernel(self) -> Kernel: ...
    def call(self, args: tuple[Any, ...]) -> Any:
        """The kernel's value for these arguments, or NotImplemented when it does not apply."""

class CompiledBase:
    """The native call path of ``fastiter.compile``'s functions."""

    _hot: Caller | None
    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

class Span:
    """A ``par_range`` source of exact ints within 64 bits."""

class ParallelIterator:
    """A chain of stages over a source (``fastiter._pipeline`` attaches its Python methods)."""

    def __init__(
        self, src: Any, stages: tuple[tuple[str, Any, Any], ...] | None = None
    ) -> None: ...
    @property
    def _src(self) -> Any: ...
    @property
    def _stages(self) -> tuple[tuple[str, Any, Any], ...]: ...
    def map(self, func: Callable[[Any], Any]) -> ParallelIterator: ...
    def filter(self, predicate: Callable[[Any], Any]) -> ParallelIterator: ...
    def sum(self) -> Any: ...
    def count(self) -> int: ...
    def min(self, key: Callable[[Any], Any] | None = None) -> Any: ...
    def max(self, key: Callable[[Any], Any] | None = None) -> Any: ...
    def any(self, predicate: Callable[[Any], Any] | None = None) -> bool: ...
    def all(self, predicate: Callable[[Any], Any] | None = None) -> bool: ...
    def collect(self) -> list[Any]: ...
    def _fast(self, consumer: str, carg: Any = None) -> Any:
        """The value from the table of compiled chains, or NotImplemented."""
    def _fast_store(
        self,
        consumer: str,
        carg: Any,
        kernel: Kernel,
        getters: Sequence[tuple[int, str, int | None, Any, bool]],
        program: Any,
    ) -> None: ...

def par_range(start: int, stop: int | None = None, step: int = 1) -> ParallelIterator: ...
def chain_setup(
    source: Any, par_range: Any, callable: Any, python_run: Any, explaining: Any
) -> None: ...
def compile(
    src: str,
    params: Sequence[tuple[str, str]],
    buffer: tuple[str, str] | None = None,
) -> Kernel: ...
def buffer_dtype_of(obj: Any) -> str | None:
    """The dtype read in place from ``obj`` (an exact ndarray, array.array, memoryview, bytes,
    bytearray or converted list, C-contiguous, in a format read), else None."""

class SeqBuffer:
    """A converted list or tuple: a read-only buffer of int64, float64 or bool items."""

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

def sequence_buffer(seq: list[Any] | tuple[Any, ...]) -> tuple[SeqBuffer, str] | str:
    """An exact list or tuple of numbers as (buffer, dtype), or why it does not convert."""

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def repl() -> int: ...
