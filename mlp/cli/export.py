"""``mlp export CHECKPOINT OUT.onnx``: the model and its preprocessing as one ONNX file (see :mod:`mlp.io.onnx`)."""

from __future__ import annotations


def add_parser(subparsers, common):
    """Register ``export`` with ``func=run``."""
    p = subparsers.add_parser(
        "export",
        parents=[common],
        help="write a saved model, with its table preprocessing, as an ONNX file (needs: pip install "
        '"mlp-arrayapi[onnx]")',
        description="The ONNX file takes the raw columns `mlp predict` takes (one input per feature column) and "
        "outputs label and probabilities (classification) or values in the targets' units "
        "(regression); any ONNX runtime serves it. See docs/export.md.",
    )
    p.add_argument("path", help="checkpoint (.safetensors)")
    p.add_argument("out", help="the ONNX file to write (.onnx)")
    p.add_argument(
        "--input-dtype",
        choices=("float64", "float32"),
        default="float64",
        help="type of the column inputs (default float64: what `mlp predict` reads; float32 rounds "
        "the raw values first)",
    )
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from pathlib import Path

    from mlp.io.checkpoint import load_checkpoint
    from mlp.io.onnx import IR_VERSION, OPSET, export_onnx

    from .common import backend_of_args, refuse_overwrite

    if Path(args.out).suffix.lower() != ".onnx":
        raise ValueError(f"{args.out}: an ONNX file is named *.onnx")
    refuse_overwrite({"the ONNX file": args.out}, {"the checkpoint": args.path})
    ckpt = load_checkpoint(args.path, backend=backend_of_args(args))
    path = export_onnx(ckpt, args.out, input_dtype=args.input_dtype)
    import onnx

    m = onnx.load(str(path))
    inputs = [i.name for i in m.graph.input]
    shown = ", ".join(inputs[:6]) + (f", ... ({len(inputs)} in all)" if len(inputs) > 6 else "")
    print(
        f"{args.path} -> {path} ({path.stat().st_size:,} bytes, ONNX opset {OPSET}, IR {IR_VERSION}): "
        f"inputs {shown}; outputs {', '.join(o.name for o in m.graph.output)}",
        flush=True,
    )
    return 0
