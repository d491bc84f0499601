"""``python -m fastiter``: the fastiter REPL, the same one as ``fastc``.

Type a pipeline to see its value, ``let N = 10**7`` to bind a parameter, ``:help`` for the
commands. With input piped it prints only results and exits 1 if any entry failed::

    printf 'let N = 10\\nrange(N).sum()\\n' | python -m fastiter
"""

import sys

from fastiter._native import repl


def main() -> int:
    """Run the REPL until the end of input, ``:quit`` or Ctrl-D; its exit status."""
    try:
        return repl()
    except KeyboardInterrupt:
        # Ctrl-C with piped input stops the script (on a terminal the REPL handles it).
        print("KeyboardInterrupt", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
