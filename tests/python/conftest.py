"""Every test process gets an on-disk kernel cache of its own (README, "Kernel cache"), so that
running pytest directly neither reads kernels an earlier build left in the user's cache nor
writes there. scripts/test_python.sh sets one already; this covers a plain `pytest`."""

from __future__ import annotations

import os
import tempfile

if "FASTITER_CACHE_DIR" not in os.environ:
    os.environ["FASTITER_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastiter-kernel-cache-")
