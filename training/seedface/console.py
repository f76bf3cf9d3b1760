"""What every command shares: tagged progress lines and the one-line error exit."""
from __future__ import annotations

import functools
import sys
from typing import Callable


def log(tag: str, msg: str, err: bool = False) -> None:
    """One progress line, ``[tag] msg``, on stdout (stderr with err; flushed: the npm scripts and the device runner
    stream it)."""
    print(f"[{tag}] {msg}", file=sys.stderr if err else sys.stdout, flush=True)


def logger(tag: str, err: bool = False) -> Callable[[str], None]:
    """``log`` bound to a tag, for the modules that print many lines."""
    return functools.partial(log, tag, err=err)


def cli(fn, argv=None, errors: tuple = (FileNotFoundError, ValueError)) -> None:
    """Run a command's entry point; input problems (missing files, wrong checkpoint kinds: ``errors``) end with one
    clear line and exit status 2 instead of a traceback."""
    try:
        fn(argv)
    except errors as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)
