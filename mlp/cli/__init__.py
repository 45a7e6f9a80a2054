"""The ``mlp`` command: ``mlp train``, ``mlp predict``, ``mlp evaluate``, ``mlp info``, ``mlp bench``.

One module per command in this package, each with ``add_parser(subparsers, common)`` and ``run(args)``;
:data:`COMMANDS` lists them in the order ``mlp --help`` shows.

``--data`` takes a built-in data set (mnist, fashion-mnist, xor, spirals) or a table of your
own (CSV with a header, Parquet, NPY, NPZ: see :mod:`mlp.io.tables`).  A model trained on a table
carries its preprocessing (feature names, standardisation, classes, task) in its checkpoint,
which ``mlp predict`` and ``mlp evaluate`` apply.

Every error a user can cause exits non-zero with one readable line
(``mlp: error: ...``); ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import importlib
import os
import sys

from .common import EXIT_ERROR, EXIT_INTERRUPTED, Parser, common_options

#: the sub-commands, each a module of this package
COMMANDS = ("train", "evaluate", "predict", "export", "info", "bench")


def build_parser() -> Parser:
    from mlp.core.version import __version__

    parser = Parser(prog="mlp", description="Train multilayer perceptrons on any array API backend.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    common = common_options()
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub, common)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        from . import threads  # the default is measured, not "all cores": see mlp/cli/threads.py

        from mlp.io.tables import csv_separator

        with threads.applied(threads.choose(getattr(args, "threads", None))), \
                csv_separator(getattr(args, "sep", None)):  # --sep: every table the command reads
            return args.func(args)
    except BrokenPipeError:
        # the reader went away (mlp info | head): not an error of ours. Point stdout at devnull so
        # that the interpreter's final flush cannot raise again, and exit as a tool killed by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13
    except KeyboardInterrupt:
        if debug:
            raise
        print("mlp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit:
        raise
    except Exception as e:  # one readable line for anything a user can cause
        if debug:
            raise
        print(f"mlp: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    from mlp.core.errors import MLPError

    from mlp.backends import BackendUnavailableError

    if isinstance(e, (MLPError, ValueError, TypeError, OSError, BackendUnavailableError)):
        return text
    return f"{type(e).__name__}: {text} (run with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
