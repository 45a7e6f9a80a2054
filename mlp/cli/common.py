"""What the ``mlp`` commands share: exit codes, argument types, the backend and data a command asks for, output."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
#: the status of a command whose standard output was a pipe that its reader closed: 128 + SIGPIPE, as a Unix tool
#: killed by SIGPIPE (``yes | head -1``) reports it
EXIT_BROKEN_PIPE = 128 + 13
_lost = []


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (``mlp train: error: ...; see mlp train --help``), exit status 2.

    Options are never abbreviated (``--epoch`` is not ``--epochs``, ``--drop`` is not ``--dropout``).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self._argv = []

    def parse_known_args(self, args=None, namespace=None):
        # kept for error(): the top-level parser reports a sub-command's unknown options, and needs the
        # command line to know which sub-command's options to suggest
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message):
        text = " ".join(message.split())
        prog = self.prog
        if text.startswith("unrecognized arguments:"):
            command = self._command_parser()
            prog = command.prog
            hints = [_closest_option(token, command, self) for token in text.split(":", 1)[1].split()]
            text += "".join(f"; {hint}" for hint in hints if hint)
        hint = self._dash_hint(text)
        if hint:
            text += f"; {hint}"
        self.exit(EXIT_ERROR, f"{prog}: error: {text}; see {prog} --help\n")

    def _dash_hint(self, text) -> str:
        """What to write for a value or file name that begins with ``-`` (which argparse reads as an option):
        ``--save=-m.safetensors``, ``./-m.safetensors``; ``""`` when the command line has none."""
        command = self._command_parser()
        known = {o for p in (self, command) for o in p._option_string_actions}
        argv = self._argv[: self._argv.index("--")] if "--" in self._argv else self._argv
        for i, token in enumerate(argv):
            if not token.startswith("-") or token.split("=", 1)[0] in known or _is_number(token):
                continue
            if token.startswith("--") and "." not in token and "/" not in token:
                continue  # an unknown option (its closest known one is suggested above), not a file name
            before = argv[i - 1] if i else ""
            if before in known and f"argument {before}" in text:
                return (
                    f"{token} was read as an option, not as the value of {before}: write {before}={token} "
                    f"(or {before} ./{token} for a file)"
                )
            return f"{token} was read as an option: write ./{token} for a file whose name begins with '-'"
        return ""

    def _command_parser(self):
        """The sub-command's parser named on the command line (this parser if none is)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for token in self._argv:
                    if token in action.choices:
                        return action.choices[token]
        return self


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _closest_option(token, *parsers) -> str:
    """``--epoch: did you mean --epochs?`` for an unknown option close to a known one, else ``""``."""
    import difflib

    name = token.split("=", 1)[0]
    if not name.startswith("--") or len(name) < 3:
        return ""
    # compared without the leading dashes, which every option shares and which would make any two look alike
    options = {o[2:]: o for p in parsers for o in p._option_string_actions if o.startswith("--")}
    close = difflib.get_close_matches(name[2:], sorted(options), n=1, cutoff=0.6)
    return f"{name}: did you mean {options[close[0]]}?" if close else ""


def common_options() -> argparse.ArgumentParser:
    """The options every command takes (a parent parser)."""
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument("--backend", help="numpy, cupy, torch, jax or array_api_strict (overrides MLP_BACKEND)")
    common.add_argument("--device", help="the backend's device, e.g. cuda:1 (overrides MLP_DEVICE)")
    common.add_argument(
        "--threads",
        type=positive_int_arg("--threads"),
        metavar="N",
        help="BLAS/OpenMP threads (default: MLP_THREADS, else OMP_NUM_THREADS, else measured when "
        "the command starts: 1 unless more are clearly faster now; on a busy machine "
        "threads beyond the free cores make training many times slower)",
    )
    common.add_argument(
        "--data-dir",
        help="data root for mnist and fashion-mnist, like MLP_DATA_DIR (which it "
        "overrides): a folder holding mnist/ and fashion-mnist/ (or the four files "
        "directly); default $MLP_DATA_DIR, else ~/.cache/mlp",
    )
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return common


# -- argument types -----------------------------------------------------------------------------
def sizes_arg(text):
    """``--sizes``: every layer width, comma-separated (``784,100,10``), at least two, all positive."""
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes must be comma-separated integers like 784,100,10, got {text!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes needs at least two positive widths, got {text!r}")
    return sizes


def hidden_arg(text):
    """``--hidden``: the hidden widths only, comma-separated (``64,32``; empty: none), all positive."""
    try:
        sizes = [int(v) for v in text.split(",")] if text.strip() else []
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated integers like 64,32, got {text!r}")
    if min(sizes, default=1) < 1:
        raise argparse.ArgumentTypeError(f"--hidden widths must be positive, got {text!r}")
    return sizes


def fraction_arg(option: str):
    """An argparse type for a fraction in [0, 1)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not 0.0 <= value < 1.0:
            raise argparse.ArgumentTypeError(f"{option} must be a fraction in [0, 1), got {text!r}")
        return value

    return parse


def positive_int_arg(option: str):
    """An argparse type for a positive integer."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{option} must be a positive integer, got {text!r}")
        return value

    return parse


#: seeds are integers in [0, SEED_LIMIT): what the weights' and the shuffling's generators take and what a checkpoint
#: records (its metadata holds integers of at most 2**63)
SEED_LIMIT = 2**63


def seed_arg(text):
    """``--seed``: an integer in [0, 2**63)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"--seed must be an integer in [0, 2**63), got {text!r:.60}")
    return value


# -- what a command asks for --------------------------------------------------------------------
def say(*text):
    """Print a line of progress or a result to standard output.  If its reader went away (``mlp train | head -1``),
    the command goes on without output (a training run to its end and its checkpoint) and exits
    :data:`EXIT_BROKEN_PIPE`."""
    if _lost:
        return
    try:
        print(*text, flush=True)
    except BrokenPipeError:
        lose_output()


def flag_words(text: str) -> str:
    """``text`` with the column overrides a table's messages advise in this command line's words: the Python API's
    ``numeric=['b']`` (:func:`mlp.io.tables.override`) as ``--numeric b``, ``numeric=[...]`` as ``--numeric COL``
    and ``numeric=`` as ``--numeric``; the same for ``--categorical`` and ``--drop``."""
    from mlp.io.tables import ANY_COLUMN, reword_overrides

    def flag(option, name):
        return f"--{option}" + ("" if name is None else " COL" if name is ANY_COLUMN else f" {name}")

    return reword_overrides(text, flag)


def lose_output():
    """Standard output's reader went away: point descriptor 1 at the null device (so that no later write or the
    interpreter's last flush raises again) and remember it (:func:`output_lost`)."""
    _lost.append(True)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no descriptor to point anywhere
        pass


def output_lost() -> bool:
    """Whether standard output's reader went away during this command (:func:`say`)."""
    return bool(_lost)


def backend_of_args(args):
    """``--backend`` overrides MLP_BACKEND and ``--device`` MLP_DEVICE (the default backend's device).  In a job
    of several processes, a GPU named without its number (or none, for CuPy) is the process's local rank's."""
    from mlp import backends

    device = getattr(args, "device", None)
    comm = getattr(args, "communicator", None)
    if comm is not None and comm.size > 1:
        name = args.backend or os.environ.get("MLP_BACKEND") or None
        device = backends.device_for_rank(name, device or os.environ.get("MLP_DEVICE") or None, comm.local_rank)
    if not args.backend and not device:
        return None
    return backends.get_backend(args.backend or None, device=device or os.environ.get("MLP_DEVICE") or None)


def data_root(args):
    root = args.data_dir
    if root and Path(root).exists() and not Path(root).is_dir():
        raise ValueError(
            f"--data-dir {root} is a file, not a folder: --data-dir names the folder that holds mnist/ "
            f"and fashion-mnist/; to train on a table of your own, use --data {root}"
        )
    return root


def load_builtin(args, quiet):
    """The built-in data set ``args.data``: ``(X, y), (X_test, y_test)``."""
    from mlp.io.datasets import load

    return load(args.data, data_root=data_root(args), download=True, progress=not quiet)


def is_table(data) -> bool:
    from mlp.io.datasets import DATASETS

    return data is not None and data not in DATASETS


def check_data(data):
    """A built-in name, a table path with a known suffix, a folder or a glob of Parquet files (an unknown name says
    what is accepted)."""
    from mlp.io.datasets import DATASETS
    from mlp.io.tables import FORMATS

    if (
        data in DATASETS
        or Path(data).suffix.lower() in FORMATS
        or Path(data).is_dir()
        or any(ch in str(data) for ch in "*?[")
    ):
        return
    raise ValueError(
        f"--data {data!r} is neither a built-in data set ({', '.join(DATASETS)}) nor a table file "
        f"({', '.join(FORMATS)})"
    )


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name one file (after resolving links; hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): the same file only if they resolve alike
        return Path(a).resolve() == Path(b).resolve()


def refuse_overwrite(outputs: dict, inputs: dict):
    """Refuse, before any work, an output path that is the same file as an input.

    ``outputs`` and ``inputs`` map how the message names each path (``"--save"``, ``"--data"``) to the
    path (None: not given).  A typo such as ``--out data.csv`` would otherwise replace the input.
    """
    for out_name, out in outputs.items():
        if out is None:
            continue
        for in_name, source in inputs.items():
            if source is not None and Path(source).exists() and same_file(out, source):
                raise ValueError(
                    f"{out_name} {out} is the same file as {in_name} {source}: writing it would "
                    f"destroy the input; choose another {out_name.lstrip('-')} path"
                )


def add_sep_option(parser):
    """``--sep``: a CSV file's delimiter (default: sniffed from the header line; a tab for .tsv files)."""
    parser.add_argument(
        "--sep",
        metavar="CHAR",
        type=sep_arg,
        help="the delimiter of a CSV table, e.g. ';' or '\\t' (default: the most frequent of , ; "
        "tab | in the header line; a tab for .tsv files)",
    )


def sep_arg(text):
    """``--sep`` text: one character; ``\\t``, ``tab``, ``\\\\t`` spell a tab."""
    value = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(text, text)
    if len(value) != 1 or value in '"\r\n':
        raise argparse.ArgumentTypeError(f"--sep must be one character (or \\t for a tab), got {text!r}")
    return value


# -- results ------------------------------------------------------------------------------------
def metrics(model, X, y, loss, task, pre) -> dict:
    """Accuracy, or MSE, MAE and R2 in the targets' own units (standardisation undone); and ``loss``."""
    return block_metrics(model, [(X, y)], loss, task, pre)


def block_metrics(model, blocks, loss, task, pre) -> dict:
    """:func:`metrics` of the rows of ``blocks`` (pairs ``(X, y)``), measured a block at a time: means weighted by
    the blocks' rows; regression metrics from every row's value in the targets' units (a number a row);
    classification's report of its confusion matrix (see :func:`class_report`)."""
    import numpy as np

    from mlp.core.tasks import regression_metrics
    from mlp.train.loop import evaluate

    total, sums, values, truths = 0, {}, [], []
    counts = np.zeros((n_classes(model, pre),) * 2, dtype=np.int64) if task == "classification" else None
    for X, y in blocks:
        result = evaluate(model, X, y, loss=loss, task=task, confusion=counts)
        total += len(X)
        for k, v in result.items():
            sums[k] = sums.get(k, 0.0) + v * len(X)
        if task == "regression":
            v, t = model.predict_values(X), y
            if pre is not None:
                v, t = pre.values(v), pre.values(t, clamp=False)  # the truths as they are
            values.append(v)
            truths.append(t)
    result = {k: v / total for k, v in sums.items()}
    if task == "regression":
        result.update(regression_metrics(np.concatenate(truths), np.concatenate(values)))
    else:
        result.update(class_report(counts, pre))
    return result


def n_classes(model, pre) -> int:
    """The classes a classifier tells apart: its preprocessing's, else its outputs (two for one output)."""
    if pre is not None and getattr(pre, "classes", None):
        return len(pre.classes)
    return max(2, int(model.sizes[-1]))


def class_report(counts, pre=None) -> dict:
    """:func:`mlp.train.metrics.class_report` of a confusion matrix, with the classes' names (``pre.classes``, or
    0, 1, ...) as ``class_names``."""
    from mlp.train.metrics import class_report as report

    names = list(pre.classes) if pre is not None and getattr(pre, "classes", None) else list(range(len(counts)))
    return {**report(counts), "class_names": names}


def class_lines(m: dict) -> list[str]:
    """The per-class lines of a classification report: each class's precision and recall."""
    import math

    lines = []
    width = max(len(str(c)) for c in m["class_names"])
    for name, p, r, n in zip(m["class_names"], m["precision"], m["recall"], m["support"], strict=True):
        if not n and math.isnan(p):
            continue
        hit = round(r * n) if n else 0
        lines.append(f"  class {str(name):<{width}}  precision {_num(p)}  recall {_num(r)} ({hit} of {n} found)")
    return lines


def baseline_warning(m: dict, what: str = "accuracy") -> str | None:
    """``mlp: warning: ...`` when a classifier's accuracy is no better than always answering the most frequent
    class (its share of the rows), else None."""
    if "baseline" not in m or len(m["support"]) < 2 or not m["accuracy"] <= m["baseline"]:
        return None
    return (
        f"mlp: warning: {what} {m['accuracy']:.4f} is no better than always answering "
        f"{m['class_names'][m['majority']]!r}, the most frequent class ({m['baseline']:.4f} of the rows)"
    )


def _num(x) -> str:
    return "   n/a" if x != x else f"{x:.4f}"


def streamed_metrics(model, rows, loss, task, pre, comm) -> dict:
    """:func:`metrics` of a streamed table's rows (read from disk a block at a time; summed over the processes of
    ``comm``): regression's in the targets' own units."""
    import numpy as np

    from mlp.core.losses import get_loss
    from mlp.train.metrics import from_sums
    from mlp.train.streaming import measure_rows

    result = measure_rows(model, get_loss(loss).bind(model.K) if loss else None, rows, task, comm)
    if task == "regression":  # the errors again, in the targets' units (the sums of what metrics.regression sums)
        sums = np.zeros(2 + 4 * rows.cache.targets)
        for X, y in rows.blocks():
            v, t = pre.values(model.predict_values(X)), pre.values(y, clamp=False)
            d = v - t
            sums += np.concatenate(
                [[0.0, len(t)], (d * d).sum(axis=0), np.abs(d).sum(axis=0), t.sum(axis=0), (t * t).sum(axis=0)]
            )
        if comm.size > 1:
            sums = comm.allreduce(sums)
        units = from_sums(sums, "regression", False)
        result.update({k: units[k] for k in ("mse", "mae", "r2")})
    elif task == "classification":  # the confusion matrix: one more pass over the blocks, summed over processes
        from mlp.train.metrics import confusion

        bound = get_loss(loss).bind(model.K) if loss else None
        counts = np.zeros((n_classes(model, pre),) * 2, dtype=np.int64)
        for X, y in rows.blocks():
            if len(X):
                counts += confusion(
                    model, bound, model.backend.asarray(X, dtype=model.dtype), rows.targets(y), len(counts)
                )
        if comm.size > 1:
            k = len(counts)
            counts = np.rint(np.asarray(comm.allreduce(counts.ravel().astype(np.float64)))).astype(np.int64)
            counts = counts.reshape(k, k)
        result.update(class_report(counts, pre))
    return result


def format_metrics(m: dict, loss_name: str | None = None) -> str:
    """``accuracy 0.9737, balanced accuracy 0.9730 (loss 0.0712)`` or ``mse 2890, mae 43.1, r2 0.4770 (loss 0.52)``
    (with ``, majority-class baseline 0.9900`` when the classes are unbalanced, above 0.6 the rows)."""
    if "r2" in m:
        text = f"mse {m['mse']:.6g}, mae {m['mae']:.6g}, r2 {m['r2']:.4f}"
    else:
        text = f"accuracy {m['accuracy']:.4f}"
        if "balanced_accuracy" in m:
            text += f", balanced accuracy {m['balanced_accuracy']:.4f}"
            if m["baseline"] > 0.6:
                text += f", majority-class baseline {m['baseline']:.4f}"
    if "loss" in m:
        text += f", {loss_name} loss {m['loss']:.4f}" if loss_name else f" (loss {m['loss']:.4f})"
    return text


def csv_field(text: str) -> str:
    """``text`` as one CSV field: quoted (its quotes doubled) when it holds a delimiter, a quote or a line break."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(path, header, blocks):
    """CSV to ``path`` (atomically: a temporary file, then renamed) or to standard output, block by block.

    ``header``: the column names; ``blocks``: an iterable of blocks of rows, each a list of columns (sequences
    of the same length) of CSV fields, text already quoted where needed (:func:`csv_field`).  A file is written
    block by block as the blocks come, never held whole; standard output gets the text once every block is
    made, so that an error on the way leaves no partial table there either.
    """

    def chunks():
        yield (",".join(csv_field(h) for h in header) + "\n").encode("utf-8")
        for columns in blocks:
            if len(columns) == 1:  # a row of one empty field is written "", not as a blank line
                text = "\n".join(v or '""' for v in columns[0])
            else:
                text = "\n".join(map(",".join, zip(*columns, strict=True)))
            if len(columns[0]):
                yield (text + "\n").encode("utf-8")

    if path is None:
        text = b"".join(chunks()).decode("utf-8")
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from mlp.io.atomic import write_atomic

    write_atomic(Path(path), chunks())
