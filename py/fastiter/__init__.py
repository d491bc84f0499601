"""fastiter: parallel iterators whose lambdas run as compiled native kernels."""

from fastiter._native import get_num_threads, set_num_threads

__all__ = ["get_num_threads", "set_num_threads"]
