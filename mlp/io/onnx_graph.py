"""The pieces of an exported ONNX graph: a graph builder, the preprocessing steps, the layers and the heads.

Each function takes a graph (:class:`Graph`, or anything with its ``fresh``, ``const`` and ``node``
methods, such as ``mlp.sklearn_onnx``'s view of skl2onnx's scope and container) and value names,
adds standard ONNX nodes (the ``ai.onnx`` and ``ai.onnx.ml`` domains, no custom operator) and
returns the names of what it added.  :mod:`mlp.io.onnx` wires them into a model's file.

Preprocessing steps
    :func:`standardize` (``Sub``, ``Div``), :func:`impute` (``ai.onnx.ml`` ``Imputer``, or
    ``Where(IsNaN)`` in double), :func:`missing_indicator`, :func:`category_slots` (a categorical
    column's one-hot slots, with its gap and unknown slots), :func:`one_hot` (``OneHotEncoder``),
    :func:`label_encode` (``LabelEncoder``), :func:`embedding_lookup` (``Gather``).
Layers
    :func:`network`: ``Gemm`` per ``Linear``, ``Relu``, ``Sigmoid``, ``Tanh``, ``Where(x > 0, x,
    slope x)`` for ``LeakyReLU``, ``Gather`` and ``Equal`` for a ``OneHot``, ``Gather`` for an ``Embedding``
    (its codes rounded and clipped as the layer does); ``Identity`` and ``Dropout`` (evaluation mode) add
    nothing.  Any other layer is
    refused with an :class:`ExportError` naming it.
Heads
    :func:`classifier_head` (probabilities and the class index, as :class:`mlp.Sequential` computes
    them) and :func:`decode_labels` (the index back to the original labels).

The ``onnx`` package is imported when a :class:`Graph` is made, never at import.
"""

from __future__ import annotations

import json
import math

import numpy as np

from mlp.core.errors import MLPError

__all__ = [
    "BATCH",
    "INSTALL_HINT",
    "IR_VERSION",
    "ML_OPSET",
    "OPSET",
    "ExportError",
    "Graph",
    "cast",
    "category_slot",
    "category_slots",
    "check_layers",
    "clamp",
    "classifier_head",
    "decode_labels",
    "elem_type",
    "embedding_lookup",
    "exportable_layers",
    "impute",
    "label_encode",
    "layer_params",
    "missing_indicator",
    "network",
    "one_hot",
    "smooth_clip",
    "standardize",
]


#: the default ONNX operator set (ai.onnx) of an exported file
OPSET = 21
#: the ai.onnx.ml operator set (Imputer 1, LabelEncoder 2, OneHotEncoder 1)
ML_OPSET = 3
#: the IR version: ONNX 1.16's, the newest ONNX Runtime 1.18 reads
IR_VERSION = 10
INSTALL_HINT = 'pip install "mlp-arrayapi[onnx]" (or pip install onnx onnxruntime)'
#: the symbolic batch dimension of every input and output
BATCH = "N"


class ExportError(MLPError, ValueError):
    """A model cannot be exported to ONNX (a layer without an ONNX form, a name clash); names the problem."""


def _onnx():
    """The onnx package, or an ImportError with the install hint."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError(f"ONNX export needs the onnx package ({e}): {INSTALL_HINT}") from None
    return onnx


# -- the graph being built ------------------------------------------------------------------------
class Graph:
    """Nodes, constants, inputs and outputs of an ONNX graph being built, with unique names.

    The step functions of this module (:func:`standardize`, :func:`one_hot`, :func:`network`, ...)
    take a graph and value names and return the names of what they add, so they work on any
    object with :meth:`fresh`, :meth:`const` and :meth:`node` (``mlp.sklearn_onnx`` hands them
    skl2onnx's scope and container behind the same three methods).

    Parameters
    ----------
    taken : iterable of str
        Names already in use (the inputs and outputs the user sees), never generated.
    """

    def __init__(self, taken=()):
        self.onnx = _onnx()
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._taken = set(taken)

    def fresh(self, hint: str) -> str:
        """A name not used yet, ``hint`` or ``hint_2``, ``hint_3``, ..."""
        name, k = hint, 1
        while name in self._taken:
            k += 1
            name = f"{hint}_{k}"
        self._taken.add(name)
        return name

    def const(self, value, hint: str = "const") -> str:
        """An initializer holding ``value`` (a NumPy array or scalar; strings become a string tensor)."""
        a = np.asarray(value)
        name = self.fresh(hint)
        if a.dtype.kind in "USO":
            tensor = self.onnx.helper.make_tensor(
                name, self.onnx.TensorProto.STRING, a.shape, [str(v).encode("utf-8") for v in a.ravel()]
            )
        else:
            tensor = self.onnx.numpy_helper.from_array(a, name)
        self.initializers.append(tensor)
        return name

    def node(self, op: str, inputs, *, domain: str = "", outputs=None, hint: str | None = None, **attrs):
        """Add one node; returns its output name (or the list of them when ``outputs`` names several)."""
        outs = list(outputs) if outputs is not None else [self.fresh(hint or op.lower())]
        self.nodes.append(
            self.onnx.helper.make_node(op, list(inputs), outs, name=self.fresh(f"{op}_node"), domain=domain, **attrs)
        )
        return outs[0] if len(outs) == 1 else outs

    def input(self, name: str, elem_type: int, shape) -> str:
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def output(self, name: str, elem_type: int, shape):
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, list(shape)))

    def model(self, doc: str, metadata: dict):
        onnx = self.onnx
        helper = onnx.helper
        graph = helper.make_graph(self.nodes, "mlp", self.inputs, self.outputs, initializer=self.initializers)
        from mlp.core.version import __version__

        opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)]
        m = helper.make_model(
            graph,
            producer_name="mlp",
            producer_version=__version__,
            doc_string=doc,
            ir_version=IR_VERSION,
            opset_imports=opsets,
        )
        helper.set_model_props(m, {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
        return m


def elem_type(dtype) -> int:
    """The ONNX element type of a NumPy dtype."""
    return _onnx().helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def cast(g, x: str, from_dtype, to_dtype) -> str:
    """``x`` in ``to_dtype`` (a ``Cast``, or ``x`` itself when the dtypes agree)."""
    if np.dtype(from_dtype) == np.dtype(to_dtype):
        return x
    return g.node("Cast", [x], to=elem_type(to_dtype), hint="cast")


# -- preprocessing steps: each maps one step of a preprocessor to nodes ---------------------------
def standardize(g, x: str, mean, scale, dtype) -> str:
    """``(x - mean) / scale`` per column, constants in ``dtype`` (``Sub``, ``Div``: NumPy's order of operations).

    The ``ai.onnx.ml`` ``Scaler`` is not used: its offsets and scales are float32 attributes and it
    multiplies by ``1 / scale``, which would move double inputs off what ``mlp predict`` computes.
    """
    centred = g.node("Sub", [x, g.const(np.asarray(mean, dtype=dtype).reshape(1, -1), "mean")], hint="centred")
    return g.node(
        "Div", [centred, g.const(np.asarray(scale, dtype=dtype).reshape(1, -1), "scale")], hint="standardized"
    )


def smooth_clip(g, x: str, inverse_clip, dtype, bound) -> str:
    """``x / sqrt(1 + (x * inverse_clip)**2)`` per column (``inverse_clip``: ``1 / clip``, or 0 where a column is
    left as it is), ``x`` first held within ``+-bound``, in NumPy's order of operations
    (:func:`mlp.io.tables.batches.smooth_clip`)."""
    x = g.node(
        "Clip",
        [
            x,
            g.const(np.asarray(-bound, dtype=dtype), "low_bound"),
            g.const(np.asarray(bound, dtype=dtype), "high_bound"),
        ],
        hint="bounded",
    )
    u = g.node(
        "Mul", [x, g.const(np.asarray(inverse_clip, dtype=dtype).reshape(1, -1), "inverse_clip")], hint="over_clip"
    )
    root = g.node(
        "Sqrt",
        [
            g.node(
                "Add",
                [g.node("Mul", [u, u], hint="squared"), g.const(np.asarray(1, dtype=dtype), "one")],
                hint="one_plus",
            )
        ],
        hint="root",
    )
    return g.node("Div", [x, root], hint="clipped")


def clamp(g, y: str, low, high, dtype, outputs=None) -> str:
    """``y`` kept within ``[low, high]`` per column (``Max`` then ``Min``: NumPy's ``minimum(maximum(y, low), high)``,
    NaN included)."""
    above = g.node("Max", [y, g.const(np.asarray(low, dtype=dtype).reshape(1, -1), "low")], hint="above_low")
    return g.node(
        "Min", [above, g.const(np.asarray(high, dtype=dtype).reshape(1, -1), "high")], outputs=outputs, hint="within"
    )


def impute(g, x: str, fill, dtype) -> str:
    """Missing values (NaN) of each column of ``x`` ``(N, C)`` replaced by ``fill[c]``.

    float32: the ``ai.onnx.ml`` ``Imputer``.  float64: ``Where(IsNaN(x), fill, x)``, since the
    Imputer's fill values are float32 attributes and ONNX Runtime has no double Imputer.
    """
    fill = np.asarray(fill, dtype=np.float64).ravel()
    if np.dtype(dtype) == np.float32:
        return g.node(
            "Imputer",
            [x],
            domain="ai.onnx.ml",
            imputed_value_floats=[float(v) for v in fill],
            replaced_value_float=math.nan,
            hint="imputed",
        )
    gap = g.node("IsNaN", [x], hint="gap")
    return g.node("Where", [gap, g.const(fill.astype(dtype).reshape(1, -1), "fill"), x], hint="imputed")


def missing_indicator(g, x: str, dtype, text: bool = False) -> str:
    """1 where ``x`` is missing (NaN; for text columns the empty string), else 0, in ``dtype``."""
    if text:
        gap = g.node("Equal", [x, g.const(np.array("", dtype=object), "empty")], hint="gap")
    else:
        gap = g.node("IsNaN", [x], hint="gap")
    return g.node("Cast", [gap], to=elem_type(dtype), hint="missing")


def _category_attrs(categories, what: str) -> dict:
    """``{"keys_strings": [...]}`` or ``{"keys_int64s": [...]}`` (``what`` = keys or cats) for categories."""
    values = list(categories)
    if all(isinstance(v, str) for v in values):
        return {f"{what}_strings": values}
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values):
        return {f"{what}_int64s": [int(v) for v in values]}
    raise ExportError(f"categories must be all strings or all integers, got {values[:5]!r}")


def one_hot(g, x: str, categories, dtype) -> str:
    """One column per category for a column ``x`` ``(N, 1)`` of strings or int64 (``ai.onnx.ml`` ``OneHotEncoder``).

    A value that is not among ``categories`` (unseen at training, or missing) gives a row of zeros.
    """
    encoded = g.node(
        "OneHotEncoder", [x], domain="ai.onnx.ml", zeros=1, hint="one_hot_3d", **_category_attrs(categories, "cats")
    )
    flat = g.node("Flatten", [encoded], axis=1, hint="one_hot")  # (N, 1, K) -> (N, K)
    return cast(g, flat, np.float32, dtype)


def label_encode(g, x: str, keys, values, default):
    """``values[k]`` where ``x == keys[k]``, ``default`` elsewhere (``ai.onnx.ml`` ``LabelEncoder``).

    Keys are strings or integers; values strings, integers or floats (float32).  For a category
    column this gives the row of an embedding table (``default``: the row of unseen categories).
    """
    attrs = _category_attrs(keys, "keys")
    vals = list(values)
    if all(isinstance(v, str) for v in vals) and isinstance(default, str):
        attrs.update(values_strings=vals, default_string=default)
    elif all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in [*vals, default]):
        attrs.update(values_int64s=[int(v) for v in vals], default_int64=int(default))
    elif all(isinstance(v, (int, float, np.integer, np.floating)) for v in [*vals, default]):
        attrs.update(values_floats=[float(v) for v in vals], default_float=float(default))
    else:
        raise ExportError(
            f"label_encode: values and default must be all strings, all integers or all numbers, "
            f"got {vals[:5]!r} and {default!r}"
        )
    return g.node("LabelEncoder", [x], domain="ai.onnx.ml", hint="encoded", **attrs)


def embedding_lookup(g, index: str, table, dtype) -> str:
    """Rows ``table[index]`` ``(N, D)`` for ``index`` ``(N, 1)`` int64 (``Gather``; negative: from the end)."""
    rows = g.node("Gather", [g.const(np.asarray(table, dtype=dtype), "embedding"), index], axis=0, hint="embedded_3d")
    return g.node("Flatten", [rows], axis=1, hint="embedded")


def _where_negative(g, slot: str, replacement: str) -> str:
    negative = g.node("Less", [slot, g.const(np.asarray(0, dtype=np.int64), "zero_index")], hint="not_found")
    return g.node("Where", [negative, replacement, slot], hint="slot")


def category_slot(g, x: str, categories, missing: bool, text: bool, gaps=("",)) -> str:
    """The slot number ``(N, 1)`` int64 of each value of a categorical column ``x`` ``(N, 1)``, as ``Column.encode``.

    Slots ``0..K-1`` are the categories, then the gap slot when the training rows had gaps (``missing``),
    then the unknown slot (an unseen category, or a gap in a column that had none).  Text (``text``): a
    value is its category when equal to it, else when equal ignoring case (the way ``mlp predict`` lets
    ``"true"`` meet ``True`` and ``"1"`` meet ``1``; lower case as the C locale has it, ASCII letters
    only); the strings in ``gaps`` are gaps.  Numbers: equality; NaN is a gap.
    """
    cats = list(categories)
    unknown = len(cats) + missing
    gap_slot = g.const(np.asarray(len(cats) if missing else unknown, dtype=np.int64), "gap_slot")
    none = g.const(np.asarray(unknown, dtype=np.int64), "unknown_slot")
    if not text:
        slot = none
        if cats:
            hits = g.node(
                "Cast",
                [g.node("Equal", [x, g.const(np.asarray([cats], dtype=np.float64), "categories")], hint="is_category")],
                to=_onnx().TensorProto.FLOAT,
                hint="hits",
            )
            first = g.node("ArgMax", [hits], axis=1, keepdims=1, hint="category")
            found = g.node(
                "Cast",
                [g.node("ReduceMax", [hits, g.const(np.array([1], dtype=np.int64), "axis")], keepdims=1, hint="any")],
                to=_onnx().TensorProto.BOOL,
                hint="found",
            )
            slot = g.node("Where", [found, first, none], hint="slot")
        # NaN equals nothing, so a gap is not found above: its slot is set here
        return g.node("Where", [g.node("IsNaN", [x], hint="gap"), gap_slot, slot], hint="slot")
    slot = none
    exact = {c: k for k, c in enumerate(cats) if isinstance(c, str)}
    loose = {str(c).lower(): k for k, c in enumerate(cats)}  # as Column.encode: the last category wins
    if loose:
        flat = g.node("Reshape", [x, g.const(np.array([-1], dtype=np.int64), "flat")], hint="text")
        lower = g.node("StringNormalizer", [flat], case_change_action="LOWER", locale="C", hint="lower")
        lower = g.node("Reshape", [lower, g.const(np.array([-1, 1], dtype=np.int64), "column")], hint="lower_col")
        slot = _where_negative(g, label_encode(g, lower, list(loose), list(loose.values()), -1), none)
    if exact:
        slot = _where_negative(g, label_encode(g, x, list(exact), list(exact.values()), -1), slot)
    spellings = sorted(set(gaps))
    gap = g.node(
        "Cast", [label_encode(g, x, spellings, [1] * len(spellings), 0)], to=_onnx().TensorProto.BOOL, hint="gap"
    )
    return g.node("Where", [gap, gap_slot, slot], hint="slot")


def category_slots(g, x: str, categories, missing: bool, text: bool, dtype, gaps=("",), codes=False) -> str:
    """A categorical column's model inputs in ``dtype``: its one-hot slots ``(N, K + missing + 1)``, or with
    ``codes`` its slot number ``(N, 1)`` (the code an :class:`mlp.OneHot` or :class:`mlp.Embedding` reads); see
    :func:`category_slot`."""
    slot = category_slot(g, x, categories, missing, text, gaps)
    if codes:
        return g.node("Cast", [slot], to=elem_type(dtype), hint="code")
    width = len(categories) + missing + 1
    encoded = g.node(
        "OneHotEncoder", [slot], domain="ai.onnx.ml", cats_int64s=list(range(width)), zeros=1, hint="one_hot_3d"
    )
    return cast(g, g.node("Flatten", [encoded], axis=1, hint="one_hot"), np.float32, dtype)


# -- the network ----------------------------------------------------------------------------------
def _linear(g, x, layer, params, dtype):
    W, b = params
    return g.node(
        "Gemm", [x, g.const(np.asarray(W, dtype=dtype), "W"), g.const(np.asarray(b, dtype=dtype), "b")], hint="linear"
    )


def _elementwise(op):
    def build(g, x, layer, params, dtype):
        return g.node(op, [x], hint=op.lower())

    return build


def _leaky_relu(g, x, layer, params, dtype):
    # Where(x > 0, x, slope x), as mlp's kernel computes it: LeakyRelu's alpha is a float32 attribute and
    # ONNX Runtime has no double PRelu, so a float64 model keeps its slope exact only this way
    zero = g.const(np.asarray(0.0, dtype=dtype), "zero")
    scaled = g.node("Mul", [x, g.const(np.asarray(layer.slope, dtype=dtype), "slope")], hint="leaky")
    return g.node("Where", [g.node("Greater", [x, zero], hint="positive"), x, scaled], hint="leaky_relu")


def _passthrough(g, x, layer, params, dtype):
    return x


def _embedding(g, x, layer, params, dtype):
    """:class:`mlp.Embedding`: the kept columns, then per code column the vector of its code (rounded, clipped)."""
    (E,) = params
    i64 = np.int64
    codes = g.node("Gather", [x, g.const(np.asarray(layer.columns, dtype=i64), "code_columns")], axis=1, hint="codes")
    codes = g.node("Cast", [g.node("Round", [codes], hint="rounded")], to=elem_type(i64), hint="codes_int")
    # per column its own clip and its own slice of E: Max/Min broadcast a row, where Clip takes scalars only
    codes = g.node("Max", [codes, g.const(np.zeros((1, len(layer.columns)), dtype=i64), "lowest")], hint="clipped")
    codes = g.node("Min", [codes, g.const(np.asarray([layer.n_categories], dtype=i64) - 1, "highest")], hint="clipped")
    starts = np.cumsum([0, *layer.n_categories[:-1]]).astype(i64).reshape(1, -1)
    codes = g.node("Add", [codes, g.const(starts, "offsets")], hint="rows")
    vectors = g.node("Gather", [g.const(np.asarray(E, dtype=dtype), "E"), codes], axis=0, hint="vectors_3d")
    vectors = g.node("Flatten", [vectors], axis=1, hint="vectors")  # (N, m, dim) -> (N, m dim)
    if not layer.kept:
        return vectors
    kept = g.node("Gather", [x, g.const(np.asarray(layer.kept, dtype=i64), "kept_columns")], axis=1, hint="kept")
    return g.node("Concat", [kept, vectors], axis=1, hint="embedded_inputs")


def _periodic(g, x, layer, params, dtype):
    """:class:`mlp.PeriodicEmbedding`: the input as it is, then per embedded column ``cos(2 pi x F + P) W + c``, in the
    layer's order of operations (a batched ``MatMul`` over the columns)."""
    F, P, W, c = (np.asarray(a, dtype=dtype) for a in params)
    m, k, d = len(layer.columns), layer.n_frequencies, layer.dim
    picked = g.node(
        "Gather",
        [x, g.const(np.asarray(layer.columns, dtype=np.int64), "periodic_columns")],
        axis=1,
        hint="periodic_inputs",
    )
    columns = g.node(
        "Unsqueeze",
        [
            g.node("Transpose", [picked], perm=[1, 0], hint="by_column"),
            g.const(np.asarray([2], dtype=np.int64), "axis_2"),
        ],
        hint="by_column_3d",
    )
    z = g.node(
        "Mul",
        [
            g.node("Mul", [columns, g.const(F.reshape(m, 1, k), "frequencies")], hint="xf"),
            g.const(np.asarray(2.0 * np.pi, dtype=dtype), "two_pi"),
        ],
        hint="angle",
    )
    z = g.node("Add", [z, g.const(P.reshape(m, 1, k), "phases")], hint="phase")
    h = g.node("MatMul", [g.node("Cos", [z], hint="cos"), g.const(W, "periodic_W")], hint="periodic_linear")
    h = g.node("Add", [h, g.const(c.reshape(m, 1, d), "periodic_c")], hint="periodic_features_3d")
    h = g.node("Flatten", [g.node("Transpose", [h], perm=[1, 0, 2], hint="by_row")], axis=1, hint="periodic_features")
    return g.node("Concat", [x, h], axis=1, hint="periodic_inputs_out")


def _one_hot(g, x, layer, params, dtype):
    """:class:`mlp.OneHot`: the input's columns gathered (a code column once per slot), and each slot 1 where its
    code is the value (``Where``), as the layer computes it."""
    read, slot, code = layer.plan()
    gathered = g.node("Gather", [x, g.const(read, "read_columns")], axis=1, hint="gathered")
    hits = g.node(
        "Cast",
        [g.node("Equal", [gathered, g.const(code.astype(dtype).reshape(1, -1), "slot_codes")], hint="is_code")],
        to=elem_type(dtype),
        hint="hits",
    )
    return g.node("Where", [g.const(slot.reshape(1, -1), "is_slot"), hits, gathered], hint="one_hot_inputs")


def _layer_exports() -> dict:
    from mlp.core.layers import (
        Dropout,
        Embedding,
        Identity,
        LeakyReLU,
        Linear,
        OneHot,
        PeriodicEmbedding,
        ReLU,
        Sigmoid,
        Tanh,
    )

    return {
        Linear: _linear,
        ReLU: _elementwise("Relu"),
        Sigmoid: _elementwise("Sigmoid"),
        Tanh: _elementwise("Tanh"),
        LeakyReLU: _leaky_relu,
        Identity: _passthrough,
        Dropout: _passthrough,
        Embedding: _embedding,
        OneHot: _one_hot,
        PeriodicEmbedding: _periodic,
    }


def exportable_layers() -> list:
    """The names of the layer types :func:`export_onnx` exports (any other layer is refused)."""
    return [cls.__name__ for cls in _layer_exports()]


def check_layers(layers):
    """An :class:`ExportError` naming the first layer without an ONNX form."""
    table = _layer_exports()
    for i, layer in enumerate(layers):
        # the exact type: a subclass may compute something else, so it is refused rather than guessed
        if type(layer) not in table:
            raise ExportError(
                f"layer {i} ({type(layer).__name__}) cannot be exported to ONNX: it has no ONNX form in "
                f"mlp; the exportable layers are {', '.join(exportable_layers())}"
            )


def network(g, x: str, layers, params, dtype) -> str:
    """The layers applied to ``x`` in evaluation mode; ``params[i]`` the host arrays of ``layers[i]`` (``()``: none)."""
    check_layers(layers)
    table = _layer_exports()
    for layer, p in zip(layers, params, strict=True):
        x = table[type(layer)](g, x, layer, p, dtype)
    return x


def layer_params(model) -> list:
    """Per layer, its parameters as host arrays (``(W, b)`` for Linear, ``()`` otherwise)."""
    state = model.state_dict()
    params, k = [], 0
    for layer in model.layers:
        if layer.param_names:
            params.append(tuple(state[f"{p}{k}"] for p in layer.param_names))
            k += 1
        else:
            params.append(())
    return params


# -- heads ----------------------------------------------------------------------------------------
def classifier_head(g, y, n_out, last_is_sigmoid, output, threshold_on_probability, dtype):
    """``(probabilities, class index)`` from the raw outputs ``y`` ``(N, n_out)``.

    As :meth:`Sequential.probabilities` and :meth:`Sequential.classes` compute them: ``output`` is
    the loss's meaning of the raw outputs (``"logits"``, ``"sigmoid logits"``, ``"values"``);
    ``threshold_on_probability`` puts a single output's decision at 0.5 (a probability), else at 0
    (a logit).
    """
    if output == "logits" and n_out > 1:
        p = g.node("Softmax", [y], axis=1, hint="softmax")
    elif output in ("sigmoid logits", "logits"):
        # Sigmoid, where mlp writes 0.5 tanh(y/2) + 0.5: the same function; ONNX Runtime's is within one
        # float32 ulp of 1 of it everywhere, and closer to the exact value where p is tiny
        p = g.node("Sigmoid", [y], hint="sigmoid")
    elif last_is_sigmoid:
        bounds = [g.const(np.asarray(v, dtype=dtype), name) for v, name in ((0.0, "zero"), (1.0, "one"))]
        p = g.node("Clip", [y, *bounds], hint="clipped")
    else:
        p = y
    if n_out > 1:
        return p, g.node("ArgMax", [y], axis=1, keepdims=0, hint="index")
    p = g.node(
        "Concat", [g.node("Sub", [g.const(np.asarray(1.0, dtype=dtype), "one"), p], hint="p0"), p], axis=1, hint="p01"
    )
    # Reshape, not Squeeze: Squeeze's axes became an input at opset 13, Reshape reads the same everywhere
    logit = g.node("Reshape", [y, g.const(np.array([-1], dtype=np.int64), "flat")], hint="output0")
    above = g.node(
        "Greater",
        [logit, g.const(np.asarray(0.5 if threshold_on_probability else 0.0, dtype=dtype), "threshold")],
        hint="above",
    )
    return p, g.node("Cast", [above], to=elem_type(np.int64), hint="index")


def _label_kind(classes) -> str:
    """How the labels travel: ``bool``, ``int64``, ``double`` or ``string`` (mixed numbers and text: text)."""
    if all(isinstance(c, bool) for c in classes):
        return "bool"
    numbers = [c for c in classes if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if len(numbers) == len(classes):
        if all(isinstance(c, int) and -(2**63) <= c < 2**63 for c in classes):
            return "int64"
        return "double"
    return "string"


def _label_text(c) -> str:
    # what `mlp predict` writes for the label in its CSV
    return repr(c) if isinstance(c, float) else str(c)


def decode_labels(g, index: str, classes, outputs=None):
    """Class index ``(N,)`` int64 -> the original labels; returns ``(name, element type)``.

    Strings and integers: ``ai.onnx.ml`` ``LabelEncoder``; booleans (``[False, True]``): ``Cast``;
    labels with fractions: ``Gather`` from a double tensor (the LabelEncoder holds float32 only);
    labels mixing numbers and text: their text as ``mlp predict`` writes it.
    """
    onnx = _onnx()
    T = onnx.TensorProto
    kind = _label_kind(classes)
    keys = list(range(len(classes)))
    if kind == "bool":
        return g.node("Cast", [index], to=T.BOOL, outputs=outputs, hint="label"), T.BOOL
    if kind == "double":
        table = g.const(np.asarray(classes, dtype=np.float64), "classes")
        return g.node("Gather", [table, index], axis=0, outputs=outputs, hint="label"), T.DOUBLE
    if kind == "int64":
        return g.node(
            "LabelEncoder",
            [index],
            domain="ai.onnx.ml",
            keys_int64s=keys,
            values_int64s=list(classes),
            default_int64=-1,
            outputs=outputs,
            hint="label",
        ), T.INT64
    return g.node(
        "LabelEncoder",
        [index],
        domain="ai.onnx.ml",
        keys_int64s=keys,
        values_strings=[_label_text(c) for c in classes],
        default_string="",
        outputs=outputs,
        hint="label",
    ), T.STRING
