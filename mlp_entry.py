"""The ``mlp`` command's entry point: Ctrl-C is one line and status 130 from the first instant to the last.

Kept outside the ``mlp`` package and import-light (the standard library only), because a console script
imports its target's package before it calls anything: importing ``mlp`` (NumPy, the backends, the
commands) takes a few tenths of a second, during which Python's own SIGINT handler would print a
``KeyboardInterrupt`` traceback of 14 to 45 lines and exit -2.  So:

1. before importing ``mlp``, SIGINT is handled by :func:`_quit` (one line, exit 130; nothing to save yet);
2. while the command runs, SIGINT is Python's ``KeyboardInterrupt`` again, which :func:`mlp.cli.main`
   turns into one line and 130 (and ``mlp train`` into a saved checkpoint);
3. once the command has returned, its output is flushed and SIGINT is :func:`_quit` again, so a Ctrl-C
   during the interpreter's shutdown (joining threads) is not ``Exception ignored in: <module 'threading'>``.
"""

import os
import signal
import sys

#: the status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130
_LINE = b"mlp: interrupted\n"


def _quit(signum, frame):  # pragma: no cover - runs in the subprocesses of the tests
    try:
        os.write(2, _LINE)
    except OSError:
        pass
    os._exit(EXIT_INTERRUPTED)  # nothing half-done to unwind: before the command, or after it finished


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written anyway
            pass


def main(argv=None) -> int:
    """Run the ``mlp`` command line ``argv`` (default ``sys.argv[1:]``); return its exit status."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started with Ctrl-C ignored (nohup, a background
        from mlp.cli import main as command  # job of a script): it stays ignored

        return command(argv)
    signal.signal(signal.SIGINT, _quit)
    from mlp.cli import main as command  # the slow part: NumPy, the backends, the commands

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return command(argv)
    except KeyboardInterrupt:  # between the handler's swap and the command's own try
        if debug:
            raise
        print("mlp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, _quit)
        _flush()


if __name__ == "__main__":
    sys.exit(main())
