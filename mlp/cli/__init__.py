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
import signal
import sys

from .common import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_INTERRUPTED, Parser, common_options, flag_words

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
    _standard_streams()
    from . import common

    common._lost.clear()  # a command's own (main may run several times in one process)
    from mlp.train.epoch import SignalInterrupt, raise_on_stop_signals, signal_name, signal_raised

    previous = raise_on_stop_signals()  # SIGTERM, SIGHUP: as Ctrl-C (training saves its step), not a silent death
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        from mlp.io.tables import csv_separator
        from mlp.train import threads  # the default is measured, not "all cores": see mlp/train/threads.py

        with (
            threads.applied(threads.choose(getattr(args, "threads", None))),
            csv_separator(getattr(args, "sep", None)),
        ):  # --sep: every table the command reads
            code = args.func(args)
        from .common import output_lost

        # the reader of standard output went away (mlp train | head -1) while the command went on to the end: the
        # status of a Unix tool that wrote into a closed pipe (128 + SIGPIPE), with nothing on stderr
        return EXIT_BROKEN_PIPE if code == 0 and output_lost() else code
    except BrokenPipeError:
        # the reader went away (mlp info | head): not an error of ours. Point stdout at devnull so
        # that the interpreter's final flush cannot raise again, and exit as a tool killed by SIGPIPE.
        from .common import lose_output

        lose_output()
        return EXIT_BROKEN_PIPE
    except SignalInterrupt as e:  # SIGTERM or SIGHUP outside training (or a second one): nothing to save
        if debug:
            raise
        _say_error(f"mlp: interrupted by {signal_name(e.signum)}")
        return 128 + e.signum
    except KeyboardInterrupt:
        if debug:
            raise
        _say_error("mlp: interrupted")
        return EXIT_INTERRUPTED
    except SystemExit:
        raise
    except Exception as e:  # one readable line for anything a user can cause
        if debug:
            raise
        signum = signal_raised()
        if signum is not None:  # an interrupt the interpreter turned into another exception: it was the interrupt
            _say_error("mlp: interrupted" if signum == signal.SIGINT else f"mlp: interrupted by {signal_name(signum)}")
            return EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum
        _say_error(f"mlp: error: {_one_line(e)}")
        return EXIT_ERROR
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _standard_streams():
    """Standard streams that cannot turn a finished run into a traceback.

    A closed descriptor 0, 1 or 2 (``mlp train ... >&-``) is opened on the null device, so that no file the command
    opens (a checkpoint being written) takes its number and receives what a library prints there.  Paths that are not
    UTF-8 (bytes from the command line, as surrogates) are written back as the bytes they were, not as a
    ``UnicodeEncodeError`` after the work is done.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:  # pragma: no cover - no /dev/null
                continue
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    for name, fd in (("stdout", 1), ("stderr", 2)):
        if getattr(sys, name) is None:  # closed when Python started: it set sys.stdout to None (a later flush fails)
            setattr(sys, name, open(fd, "w", errors="backslashreplace", closefd=False))
    try:
        if sys.stdout.errors == "strict":
            sys.stdout.reconfigure(errors="surrogateescape")
    except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (a test's capture), or closed
        pass


def _say_error(text: str):
    """``text`` as one line on standard error; quietly nothing if standard error is gone."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass


def _one_line(e: BaseException) -> str:
    if isinstance(e, UnicodeEncodeError) and e.reason == "surrogates not allowed" and isinstance(e.object, str):
        # a name from the command line that is not UTF-8 (its bytes kept as surrogates), which a library could not
        # encode: name it as the bytes it is
        name, tb = os.fsencode(e.object), e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = (tb.tb_frame.f_globals.get("__name__") or "") if tb is not None else ""
        library = where.split(".")[0] if where and not where.startswith("mlp") else "a library used here"
        return (
            f"the name {name!r} is not valid UTF-8 (byte 0x{name[e.start : e.start + 1].hex()} at position "
            f"{e.start}), which {library} cannot open; rename the file"
        )
    text = flag_words(" ".join(str(e).split())) or type(e).__name__
    from mlp.backends import BackendUnavailableError
    from mlp.core.errors import MLPError

    if isinstance(e, (MLPError, ValueError, TypeError, OSError, BackendUnavailableError)):
        return text
    return f"{type(e).__name__}: {text} (run with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
