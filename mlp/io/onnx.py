"""Export to ONNX: the network and the preprocessing of its table in one file any ONNX runtime serves.

:func:`export_onnx` (and ``mlp export CHECKPOINT OUT.onnx``) writes a graph made with the ``onnx``
package's own helpers and standard operators only (no custom domain):

Inputs
    A model trained on a table (it has a :class:`mlp.io.tables.Preprocessor`) takes the raw
    columns that ``mlp predict`` takes: one input per feature column, named after the column, shape
    ``(N, 1)``: ``tensor(double)`` for a number (NaN for a gap; ``input_dtype="float32"``:
    ``tensor(float)``), ``tensor(string)`` for a category (text as mlp's table readers give it:
    trimmed, a gap empty or spelled as they spell one, ``NA``, ``null``, ...; a category column whose
    categories are all numbers takes numbers).  A model without preprocessing (trained
    on MNIST, say) takes one matrix ``input`` of shape ``(N, n_in)`` in the model's dtype.
Preprocessing
    Each column's encoder (:mod:`mlp.io.tables.encoders`) is a few nodes of :mod:`mlp.io.onnx_graph`: a
    number's gap filled with the training median (:func:`impute`) and its missing indicator
    (:func:`missing_indicator`); a category's slot number, with the gap slot and the unknown slot for a
    category never seen in training (:func:`category_slots`: ``LabelEncoder``), which the model's first
    layers read (a ``OneHot``, or an ``Embedding`` for a column of many levels; a format-2 preprocessing's
    one-hot slots are made here, ``OneHotEncoder``); then the columns side by side, standardised (``Sub``,
    ``Div`` in the input dtype: NumPy's numbers to the last bit) and cast to the model's dtype.  A date/time column is
    refused with an :class:`ExportError` naming it (ONNX has no date operators).
Network
    ``Gemm`` per :class:`~mlp.core.layers.Linear`, ``Relu``, ``Sigmoid``, ``Tanh``, ``Where(x > 0,
    x, slope x)`` for LeakyReLU (its slope in the model's dtype), ``Gather`` and ``Equal`` for a
    ``OneHot``, ``Gather`` for an ``Embedding``, nothing for ``Identity`` and ``Dropout``
    (the identity in evaluation).  Any other layer is refused with an :class:`ExportError`
    naming it.
Outputs
    Classification: ``label`` ``(N,)``, the original class labels (string, int64, double or
    bool tensors, as the labels are), and ``probabilities`` ``(N, n_classes)`` in the model's
    dtype (``Softmax`` of logits, ``Sigmoid`` of a single logit, the outputs themselves for a
    quadratic cost), exactly as :meth:`mlp.Sequential.predict` and ``predict_proba`` choose them.
    Regression: ``values`` ``(N, n_targets)``, double, in the targets' own units.

The file pins ONNX opset :data:`OPSET` (21) with ``ai.onnx.ml`` opset :data:`ML_OPSET` (3) and IR
version :data:`IR_VERSION` (10): what ONNX 1.16 writes and ONNX Runtime 1.18 and later run.  It is
checked with ``onnx.checker.check_model(full_check=True)`` before it is written.

The ``onnx`` package is an optional extra (``pip install "mlp-arrayapi[onnx]"``, which brings
``onnxruntime`` for checking too); it is imported only when a graph is built, so ``import mlp``
never needs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .onnx_graph import (
    BATCH,
    INSTALL_HINT,
    IR_VERSION,
    ML_OPSET,
    OPSET,
    ExportError,
    Graph,
    _onnx,
    cast,
    category_slots,
    check_layers,
    clamp,
    classifier_head,
    decode_labels,
    elem_type,
    embedding_lookup,
    exportable_layers,
    impute,
    label_encode,
    layer_params,
    missing_indicator,
    network,
    one_hot,
    smooth_clip,
    standardize,
)
from .tables import NULLS
from .tables.batches import BOUND

__all__ = [
    "INSTALL_HINT",
    "IR_VERSION",
    "ML_OPSET",
    "OPSET",
    "OUTPUTS",
    "ExportError",
    "Graph",
    "category_slots",
    "classifier_head",
    "decode_labels",
    "elem_type",
    "embedding_lookup",
    "export_onnx",
    "exportable_layers",
    "impute",
    "info_line",
    "label_encode",
    "missing_indicator",
    "network",
    "one_hot",
    "smooth_clip",
    "standardize",
    "to_onnx",
]


#: the output names, by task
OUTPUTS = {"classification": ("label", "probabilities"), "regression": ("values",)}
#: protobuf refuses messages over 2 GiB; keep a margin for the graph itself
_MAX_BYTES = 2**31 - 2**24
#: the text a category input reads as a gap: the empty string and the spellings mlp's table readers take for one
_GAPS = ("", *sorted(NULLS))


def info_line() -> str:
    """One line for ``mlp info``: whether export is available, and with which versions."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("onnx", "onnxruntime", "skl2onnx"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    if found["onnx"] is None:
        return f"onnx export: unavailable (no onnx package: {INSTALL_HINT})"
    text = f"onnx export: available (onnx {found['onnx']}, opset {OPSET}, IR {IR_VERSION}"
    text += f"; onnxruntime {found['onnxruntime']} to run it" if found["onnxruntime"] else "; no onnxruntime to run it"
    if found["skl2onnx"]:
        text += f"; skl2onnx {found['skl2onnx']} for mlp.sklearn pipelines"
    return text + ")"


# -- the preprocessor's columns -------------------------------------------------------------------
def _reads_text(column) -> bool:
    """Whether a categorical column's input is text (else numbers: every category is an int or a float)."""
    cats = column.categories or []
    return not (cats and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in cats))


def _column_inputs(g, column, input_dtype) -> list:
    """The graph input of one feature column (named after it) and the model inputs it makes from it."""
    T = _onnx().TensorProto
    if column.kind == "numeric":
        x = g.input(column.name, elem_type(input_dtype), [BATCH, 1])
        parts = [impute(g, x, [column.fill], input_dtype) if column.fill is not None else x]
        return parts + ([missing_indicator(g, x, input_dtype)] if column.indicator else [])
    if column.kind == "categorical":
        text = _reads_text(column)
        x = g.input(column.name, T.STRING if text else elem_type(input_dtype), [BATCH, 1])
        return [
            category_slots(g, x, column.categories, column.missing, text, input_dtype, gaps=_GAPS, codes=column.codes)
        ]
    raise ExportError(_date_refusal(column.name))


def _date_refusal(name) -> str:
    return (
        f"column {name!r} is a date/time column, and an ONNX graph cannot parse dates (ONNX has no date "
        f"operators); train without it (--drop {name}) or with its parts (year, month, ...) as numeric columns"
    )


def _preprocess(g, pre, input_dtype, model_dtype) -> str:
    """The preprocessor's steps, as :meth:`Preprocessor.transform` applies them: the model's input ``(N, n_inputs)``.

    Per column (in the preprocessor's order) its encoder: a number with its gap filled
    (:func:`impute`) and its missing indicator (:func:`missing_indicator`), or a category's one-hot
    slots (:func:`category_slots`); then the columns side by side, standardised, in the model's dtype.
    """
    parts = [p for column in pre.columns for p in _column_inputs(g, column, input_dtype)]
    x = parts[0] if len(parts) == 1 else g.node("Concat", parts, axis=1, hint="features")
    if pre.mean is not None:
        x = standardize(g, x, pre.mean, pre.scale, input_dtype)
    if pre.clip is not None:
        x = smooth_clip(g, x, pre.inverse_clip(), input_dtype, BOUND)
    return cast(g, x, input_dtype, model_dtype)


# -- the whole model ------------------------------------------------------------------------------
def _regression_values(g, y, pre, dtype, outputs=None):
    y = cast(g, y, dtype, np.float64)
    clamped = pre is not None and pre.target_low is not None
    if pre is not None and pre.target_mean is not None:
        # NumPy's Y * scale + mean (Preprocessor.values), in double
        y = g.node(
            "Mul",
            [y, g.const(np.asarray(pre.target_scale, dtype=np.float64).reshape(1, -1), "target_scale")],
            hint="scaled",
        )
        y = g.node(
            "Add",
            [y, g.const(np.asarray(pre.target_mean, dtype=np.float64).reshape(1, -1), "target_mean")],
            outputs=None if clamped else outputs,
            hint="values",
        )
        if not clamped:
            return y
    if clamped:  # within the training targets' range, as Preprocessor.values keeps them
        return clamp(g, y, pre.target_low, pre.target_high, np.float64, outputs=outputs)
    return g.node("Identity", [y], outputs=outputs, hint="values")


def _what_to_export(model, preprocessor, loss, task, input_dtype):
    """``(model, preprocessor, loss or None, task, trained-on backend)``, everything checked before a node is built."""
    from mlp.core.losses import get_loss
    from mlp.core.model import Sequential
    from mlp.io.checkpoint import Checkpoint, _check_preprocessing

    source_backend = None
    if isinstance(model, Checkpoint):
        checkpoint = model
        model = checkpoint.model
        preprocessor = preprocessor if preprocessor is not None else checkpoint.preprocessor
        loss = loss if loss is not None else (get_loss(checkpoint.loss_name) if checkpoint.loss_name else None)
        source_backend = checkpoint.metadata.get("backend")
    if not isinstance(model, Sequential):
        raise TypeError(f"export_onnx: model must be an mlp.Sequential or a Checkpoint, got {type(model).__name__}")
    check_layers(model.layers)
    if input_dtype not in ("float32", "float64"):
        raise ValueError(f"export_onnx: input_dtype must be 'float32' or 'float64', got {input_dtype!r}")
    pre = preprocessor
    if pre is not None:
        try:
            _check_preprocessing(pre.to_dict(), model.sizes)
        except ValueError as e:
            raise ValueError(f"export_onnx: {e}") from None
        for column in pre.columns:
            if column.kind not in ("numeric", "categorical"):
                raise ExportError(_date_refusal(column.name))
        task = pre.task
    elif task is None:
        task = "classification"  # as `mlp predict` reads a model without preprocessing
    elif task not in OUTPUTS:
        raise ValueError(f"export_onnx: task must be one of {', '.join(OUTPUTS)}, got {task!r}")
    nbytes = sum(a.nbytes for a in model.state_dict().values())
    if nbytes > _MAX_BYTES:
        raise ExportError(f"the model's parameters take {nbytes / 2**30:.2f} GiB; an ONNX file holds at most 2 GiB")
    inputs = list(pre.features) if pre is not None else ["input"]
    clash = sorted(set(inputs) & set(OUTPUTS[task]))
    if clash:
        raise ExportError(
            f"feature column {clash[0]!r} has the name of an output of the ONNX graph "
            f"({', '.join(OUTPUTS[task])}); rename the column and train again"
        )
    return model, pre, (get_loss(loss) if loss is not None else None), task, source_backend


def _outputs(g, y, model, pre, loss, task, dtype):
    """The graph's outputs from the raw outputs ``y``: ``label`` and ``probabilities``, or ``values``."""
    from mlp.core.layers import Sigmoid

    n_out = model.sizes[-1]
    if task == "regression":
        _regression_values(g, y, pre, dtype, outputs=["values"])
        g.output("values", _onnx().TensorProto.DOUBLE, [BATCH, n_out])
        return
    classes = pre.classes if pre is not None else list(range(max(2, n_out)))
    last_is_sigmoid = isinstance(model.layers[-1], Sigmoid)
    # Sequential.probabilities reads a missing loss as "values"; Sequential.classes thresholds a single output
    # at 0.5 only when it is a probability
    output = loss.output if loss is not None else "values"
    threshold_on_p = last_is_sigmoid or (loss is not None and loss.output == "values")
    p, index = classifier_head(g, y, n_out, last_is_sigmoid, output, threshold_on_p, dtype)
    _, label_type = decode_labels(g, index, classes, outputs=["label"])
    g.node("Identity", [p], outputs=["probabilities"])
    g.output("label", label_type, [BATCH])
    g.output("probabilities", elem_type(dtype), [BATCH, len(classes)])


def to_onnx(model, preprocessor=None, *, loss=None, task=None, input_dtype="float64", check=True):
    """The ONNX model (an ``onnx.ModelProto``) of ``model`` and its preprocessing; see :func:`export_onnx`."""
    onnx = _onnx()
    model, pre, loss, task, source_backend = _what_to_export(model, preprocessor, loss, task, input_dtype)
    dtype = np.dtype(model.dtype)
    inputs = list(pre.features) if pre is not None else ["input"]
    g = Graph(taken=[*inputs, *OUTPUTS[task]])
    if pre is not None:
        x = _preprocess(g, pre, input_dtype, dtype)
    else:
        x = g.input("input", elem_type(dtype), [BATCH, model.sizes[0]])
    _outputs(g, network(g, x, model.layers, layer_params(model), dtype), model, pre, loss, task, dtype)

    metadata = {
        "mlp.task": task,
        "mlp.inputs": inputs,
        "mlp.outputs": list(OUTPUTS[task]),
        "mlp.dtype": model.dtype,
        "mlp.loss": type(loss).__name__ if loss is not None else "none",
    }
    if source_backend:
        metadata["mlp.trained_on"] = source_backend
    if pre is not None:
        metadata.update({"mlp.targets": list(pre.targets), "mlp.preprocessing": pre.to_dict()})
    shown = (
        f"one (N, 1) column per feature (numbers {input_dtype}, categories text)"
        if pre is not None
        else f"input (N, {model.sizes[0]})"
    )
    m = g.model(
        f"mlp {task} network {'-'.join(map(str, model.sizes))}; inputs: {shown}; outputs: {', '.join(OUTPUTS[task])}",
        metadata,
    )
    if check:
        onnx.checker.check_model(m, full_check=True)
    return m


def export_onnx(model, path, preprocessor=None, *, loss=None, task=None, input_dtype="float64", check=True) -> Path:
    """Write ``model`` with its preprocessing to the ONNX file ``path`` (atomically); returns ``path``.

    Parameters
    ----------
    model : mlp.Sequential or mlp.Checkpoint
        A checkpoint brings its preprocessor and the loss it was trained with.
    path : str or os.PathLike
        The ``.onnx`` file; missing parent folders are created.
    preprocessor : mlp.io.tables.Preprocessor, optional
        The table's preprocessing: the graph then takes the raw columns, one input each.
    loss : Loss, class or name, optional
        What the outputs mean (logits for the cross-entropies), as for :meth:`mlp.Sequential.predict_proba`;
        None: the outputs are probabilities or values as they are.
    task : {"classification", "regression"}, optional
        Without a preprocessor (which knows its task): default classification, as ``mlp predict``.
    input_dtype : {"float64", "float32"}
        The type of the column inputs (the preprocessing computes in it, then casts to the model's
        dtype).  float64 reproduces ``mlp predict``, which reads numbers as double.
    check : bool
        Run ``onnx.checker.check_model(full_check=True)`` before writing.

    Returns
    -------
    Path

    Raises
    ------
    ExportError
        A layer without an ONNX form (the message names it), a date/time column, a feature named
        like an output, or parameters over the 2 GiB of an ONNX file.
    ImportError
        The onnx package is not installed (the message says how to install it).
    """
    from mlp.io.atomic import write_atomic

    m = to_onnx(model, preprocessor, loss=loss, task=task, input_dtype=input_dtype, check=check)
    path = Path(os.fspath(path))
    write_atomic(path, m.SerializeToString())
    return path
