"""The ``mlp`` command: ``mlp train``, ``mlp evaluate``, ``mlp info``, ``mlp bench``.

Every error a user can cause exits non-zero with one readable line
(``mlp: error: ...``); ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

#: the defaults of `mlp train`: a modern recipe that reaches ~98% on MNIST in about a minute on 2 CPU cores
DEFAULTS = dict(data="mnist", sizes=[784, 512, 256, 10], activation="relu", loss="cross_entropy", init="he",
                optimizer="sgd", lr=0.05, momentum=0.9, l2=0.0, epochs=15, batch_size=64, dtype="float32", seed=0)
#: what differs for the small synthetic sets (used only where the option was not given)
DATA_DEFAULTS = {
    "xor": dict(sizes=[2, 8, 2], epochs=300, batch_size=4, lr=0.1),
    "spirals": dict(sizes=[2, 64, 64, 2], epochs=60, batch_size=32, lr=0.05),
}


def _sizes(text):
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes must be comma-separated integers like 784,100,10, got {text!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes needs at least two positive widths, got {text!r}")
    return sizes


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (``mlp train: error: ...; see mlp train --help``), exit status 2."""

    def error(self, message):
        text = " ".join(message.split())
        self.exit(EXIT_ERROR, f"{self.prog}: error: {text}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    from .datasets import DATASETS
    from .layers import ACTIVATIONS, INITS
    from .losses import LOSSES
    from .optim import OPTIMIZERS

    parser = _Parser(prog="mlp", description="Train multilayer perceptrons on any array API backend.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", help="numpy, cupy, torch or array_api_strict (overrides MLP_BACKEND)")
    common.add_argument("--data-dir", help="folder with the data set's IDX files (default: $MLP_DATA_DIR/<data> or ~/.cache/mlp/<data>)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")

    defaults = ", ".join(f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, list) else v}"
                         for k, v in DEFAULTS.items())
    t = sub.add_parser("train", parents=[common], help="train a network (default: MNIST, ~98%% in about a minute)",
                       description=f"Defaults: {defaults}; for xor and spirals: {DATA_DEFAULTS}.")
    t.add_argument("--data", choices=DATASETS, default=DEFAULTS["data"])
    t.add_argument("--sizes", type=_sizes, default=None, help="layer widths; input and output must fit the data")
    t.add_argument("--activation", choices=sorted(ACTIVATIONS), default=None, help="hidden-layer activation")
    t.add_argument("--loss", choices=sorted(LOSSES), default=None,
                   help="quadratic adds a sigmoid output (the book's chapter 1 network)")
    t.add_argument("--init", choices=INITS, default=None)
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None)
    t.add_argument("--lr", type=float, default=None, help="learning rate (the book's eta)")
    t.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    t.add_argument("--l2", type=float, default=None, help="the book's L2 lambda (scaled by the training-set size)")
    t.add_argument("--epochs", type=int, default=None, help="epochs to train (with --resume: more epochs)")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--dtype", choices=("float32", "float64"), default=None)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--save", metavar="PATH", help="checkpoint file, written after every epoch (default: runs/<data>-<time>.safetensors)")
    t.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint")
    t.add_argument("--plot", metavar="PATH", help="write a PNG of loss and accuracy per epoch (needs matplotlib)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", parents=[common], help="accuracy and loss of a saved model on a data set's test split")
    e.add_argument("path", help="checkpoint (.safetensors)")
    e.add_argument("--data", choices=DATASETS, default=None, help="default: the data set the model was trained on")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    i = sub.add_parser("info", help="backends usable here, their devices and versions, and why the others are not")
    i.set_defaults(func=cmd_info)

    from . import bench

    bench.add_parser(sub)
    return parser


# -- helpers ------------------------------------------------------------------------------------
def _say(args, *text):
    print(*text, flush=True)


def _backend(args):
    """``--backend`` overrides MLP_BACKEND, so MLP_DEVICE (the default backend's device) applies to it."""
    if not args.backend:
        return None
    import backends

    return backends.get_backend(args.backend, device=os.environ.get("MLP_DEVICE") or None)


def _load_data(args, quiet):
    from .datasets import load

    data_dir = args.data_dir
    return load(args.data, data_dir=data_dir, download=True, progress=not quiet)


def _split(args, data):
    """Training, validation and test sets: MNIST-like data use the book's split (50k/10k/10k)."""
    (X, y), (X_test, y_test) = data
    if args.data in ("mnist", "fashion-mnist") and len(X) == 60_000:
        return (X[:50_000], y[:50_000]), (X[50_000:], y[50_000:]), (X_test, y_test)
    return (X, y), None, (X_test, y_test)


def _check_plot_possible(path):
    if path is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit(f"mlp: error: --plot {path} needs matplotlib: pip install 'mlp[plot]' (or pip install matplotlib)")


def write_plot(history, path):
    """A PNG with loss and accuracy per epoch (training and validation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = history.history
    epochs = [e + 1 for e in history.epoch]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", ax1), ("accuracy", ax2)):
        ax.plot(epochs, h[key], marker="o", label="training")
        if any(v == v for v in h["val_" + key]):
            ax.plot(epochs, h["val_" + key], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- commands -----------------------------------------------------------------------------------
def cmd_train(args) -> int:
    import mlp
    from .checkpoint import load_checkpoint
    from .training import ModelCheckpoint, l2_weight_decay, save_training_state

    _check_plot_possible(args.plot)
    quiet = args.quiet
    given = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}
    config = {**DEFAULTS, **DATA_DEFAULTS.get(args.data, {}), **given}
    history = None
    initial_epoch = initial_step = 0
    if args.resume:
        ckpt = load_checkpoint(args.resume, backend=_backend(args))
        extra = ckpt.metadata.get("extra", {})
        saved = extra.get("cli")
        if given.keys() - {"data", "epochs"}:
            raise ValueError(f"--resume continues the saved run with its own settings; drop "
                             f"{', '.join('--' + k.replace('_', '-') for k in sorted(given.keys() - {'data', 'epochs'}))}")
        if not saved:
            raise mlp.CheckpointError(f"{args.resume}: this checkpoint was not written by `mlp train`, so it cannot be resumed from the command line")
        if ckpt.optimizer is None:
            raise mlp.CheckpointError(f"{args.resume}: the checkpoint holds no optimizer state to resume from")
        config = dict(saved)
        model, optimizer = ckpt.model, ckpt.optimizer
        initial_epoch, initial_step = int(extra.get("epoch", 0)), int(extra.get("step", 0))
        history = mlp.History.from_dict(extra.get("history", {}))
        args.data = config["data"]
        save_path = args.save or args.resume
        epochs = initial_epoch + (args.epochs if args.epochs is not None else config["epochs"])
    else:
        save_path = args.save or os.path.join("runs", f"{args.data}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors")
        epochs = config["epochs"]

    data = _load_data(args, quiet)
    (X, y), val, (X_test, y_test) = _split(args, data)
    n_in, n_classes = X.shape[1], int(max(y.max(), y_test.max())) + 1

    if not args.resume:
        sizes = config["sizes"]
        n_out = 1 if n_classes == 2 and sizes[-1] == 1 else n_classes
        if sizes[0] != n_in or sizes[-1] != n_out:
            raise ValueError(f"--sizes {','.join(map(str, sizes))} does not fit --data {args.data}: "
                             f"the input width must be {n_in} and the output width {n_out}")
        model = mlp.build_mlp(sizes, config["activation"], config["loss"], config["init"], _backend(args), config["dtype"],
                              config["seed"])
        wd = l2_weight_decay(config["l2"], len(X)) if config["l2"] else 0.0
        if config["optimizer"] == "sgd":
            optimizer = mlp.SGD(config["lr"], momentum=config["momentum"], weight_decay=wd)
        else:
            optimizer = mlp.Adam(config["lr"], weight_decay=wd)

    if not quiet:
        _say(args, f"training {model.sizes} ({config['activation']}, {config['loss']}, {optimizer!r}) on {args.data}: "
             f"{len(X)} samples, batch {config['batch_size']}, backend {model.backend.name} ({model.backend.device}), {model.dtype}")
        if initial_epoch or initial_step:
            _say(args, f"resuming {args.resume} after epoch {initial_epoch}" + (f", step {initial_step}" if initial_step else ""))
    saved_config = {**config, "sizes": list(config["sizes"])}
    extra = {"cli": saved_config, "data": args.data}
    callbacks = [ModelCheckpoint(save_path)]
    try:
        history = mlp.fit(model, X, y, loss=config["loss"], optimizer=optimizer, epochs=epochs,
                          batch_size=config["batch_size"], validation_data=val, seed=config["seed"],
                          progress=not quiet, callbacks=callbacks, initial_epoch=initial_epoch,
                          initial_step=initial_step, history=history, extra=extra)
    except mlp.TrainingInterrupted as stop:
        from .training import FitState

        state = FitState(model, optimizer, mlp.get_loss(config["loss"]), stop.history, epochs, config["seed"], extra={**extra, "step": stop.step})
        save_training_state(save_path, state, stop.epoch)
        print(f"mlp: interrupted at epoch {stop.epoch + 1}, step {stop.step}; checkpoint saved to {save_path} "
              f"(continue with: mlp train --resume {save_path})", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    result = mlp.evaluate(model, X_test, y_test, loss=config["loss"])
    if args.plot:
        write_plot(history, args.plot)
    seconds = sum(history.history["seconds"][-(epochs - initial_epoch):]) if history.epoch else 0.0
    print(f"test accuracy {result['accuracy']:.4f} (loss {result['loss']:.4f}) after {len(history.epoch)} epochs "
          f"({seconds:.1f} s of training); checkpoint saved to {save_path}" + (f"; plot in {args.plot}" if args.plot else ""),
          flush=True)
    return 0


def cmd_evaluate(args) -> int:
    from .checkpoint import load_checkpoint
    from .training import evaluate

    ckpt = load_checkpoint(args.path, backend=_backend(args))
    extra = ckpt.metadata.get("extra", {})
    loss_name = (extra.get("cli") or {}).get("loss") or _loss_name(extra.get("loss"))
    args.data = args.data or extra.get("data") or "mnist"
    _, (X_test, y_test) = _load_data(args, args.quiet)
    result = evaluate(ckpt.model, X_test, y_test, loss=loss_name)
    line = f"{args.path} on {args.data} test ({len(X_test)} samples), backend {ckpt.model.backend.name}: accuracy {result['accuracy']:.4f}"
    if "loss" in result:
        line += f", {loss_name} loss {result['loss']:.4f}"
    print(line, flush=True)
    return 0


def _loss_name(saved):
    from .losses import LOSSES

    for name, cls in LOSSES.items():
        if saved in (name, cls.__name__):
            return name
    return None


def cmd_info(args) -> int:
    import numpy

    import backends
    import mlp

    print(f"mlp {mlp.__version__}, Python {sys.version.split()[0]}, NumPy {numpy.__version__}")
    default = os.environ.get("MLP_BACKEND") or "numpy"
    print(f"default backend: {default!r} (MLP_BACKEND={os.environ.get('MLP_BACKEND')!r}, MLP_DEVICE={os.environ.get('MLP_DEVICE')!r})")
    print("available backends:")
    for name in backends.available():
        be = backends.get_backend(name)
        print(f"  {name:17s} version {be.version:12s} device {be.device}")
    missing = backends.unavailable()
    if missing:
        print("unavailable backends:")
        for name, why in missing.items():
            print(f"  {name:17s} {why}")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return args.func(args)
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
    from .errors import MLPError

    from backends import BackendUnavailableError

    if isinstance(e, (MLPError, ValueError, TypeError, OSError, BackendUnavailableError)):
        return text
    return f"{type(e).__name__}: {text} (run with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
