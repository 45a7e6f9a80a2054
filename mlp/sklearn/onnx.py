"""skl2onnx converters for :mod:`mlp.sklearn`: ``skl2onnx.to_onnx(pipeline, X[:1])`` with mlp's estimators.

:func:`register` gives skl2onnx a shape calculator and a converter for :class:`mlp.sklearn.MLPClassifier` and
:class:`mlp.sklearn.MLPRegressor`, so a ``Pipeline`` ending in one of them converts as it does with scikit-learn's
own MLPs: the same outputs (``output_label`` and ``output_probability``, a ZipMap unless ``options={"zipmap":
False}``, which float64 needs, as for scikit-learn's; a regressor's ``variable`` ``(N, n_outputs)``) and options
(``zipmap``, ``nocl``).  The network is :func:`mlp.io.onnx_graph.network` built from the fitted ``coefs_``,
``intercepts_`` and ``activation``, in the estimator's own dtype, and the head is ``out_activation_``: softmax
(labels by argmax), logistic (two classes: the label where p > 0.5; several labels: the indicator matrix), identity,
exp (``loss="poisson"``), decoded as scikit-learn's ``LabelBinarizer`` decodes them.

:func:`register_when_imported` registers now if skl2onnx is imported, or the moment it is, without importing it
(``import mlp.sklearn`` stays as fast as without skl2onnx).  This module never imports the estimators (the classes
are handed in), so it and :mod:`mlp.sklearn`'s ``__init__`` make no import cycle.  ``mlp.sklearn_onnx`` is the same
two functions under the name this module had before it moved into :mod:`mlp.sklearn`.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

import numpy as np

__all__ = ["register", "register_when_imported"]

#: the estimator classes registered so far
_registered = set()
#: skl2onnx's options of a classifier converter, as for scikit-learn's MLPClassifier
_CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "nocl": [True, False], "output_class_labels": [False, True]}


class _Skl2OnnxGraph:
    """skl2onnx's scope and container behind the three methods of :class:`mlp.io.onnx.Graph`."""

    def __init__(self, scope, container):
        from onnx import TensorProto, numpy_helper

        self.scope, self.container = scope, container
        self._string, self._from_array = TensorProto.STRING, numpy_helper.from_array

    def fresh(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def const(self, value, hint="const"):
        a = np.asarray(value)
        name = self.fresh(hint)
        if a.dtype.kind in "USO":
            text = [str(v).encode("utf-8") for v in a.ravel()]
            self.container.add_initializer(name, self._string, list(a.shape), text)
        else:
            self.container.add_initializer(name, None, None, self._from_array(a, name))
        return name

    def node(self, op, inputs, *, domain="", outputs=None, hint=None, **attrs):
        outs = list(outputs) if outputs is not None else [self.fresh(hint or op.lower())]
        version = None
        if domain:  # the op as of mlp's ai.onnx.ml opset (skl2onnx would take the newest, which it may not write)
            from onnx.defs import get_schema

            from mlp.io.onnx import ML_OPSET

            version = get_schema(op, ML_OPSET, domain).since_version
        self.container.add_node(
            op,
            list(inputs),
            outs,
            op_domain=domain,
            op_version=version,
            name=self.scope.get_unique_operator_name(op),
            **attrs,
        )
        return outs[0] if len(outs) == 1 else outs


def _host(a):
    from mlp.core.util import to_host

    return np.asarray(to_host(a))


def _network_of(est):
    """``(layers, params, dtype)`` of a fitted estimator, from its public attributes."""
    from mlp.core.layers import Identity, Linear, ReLU, Sigmoid, Tanh
    from mlp.io.onnx import ExportError

    hidden = {"identity": Identity, "logistic": Sigmoid, "tanh": Tanh, "relu": ReLU}
    if est.activation not in hidden:
        raise ExportError(f"{type(est).__name__}: activation {est.activation!r} has no ONNX form here")
    if est.out_activation_ not in ("softmax", "logistic", "identity", "exp"):
        raise ExportError(f"{type(est).__name__}: output activation {est.out_activation_!r} has no ONNX form here")
    coefs = [_host(W) for W in est.coefs_]
    intercepts = [_host(b) for b in est.intercepts_]
    layers, params = [], []
    for k, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        layers.append(Linear(W.shape[0], W.shape[1]))
        params.append((W, b))
        if k < len(coefs) - 1:
            layers.append(hidden[est.activation]())
            params.append(())
    return layers, params, coefs[0].dtype


def _forward(scope, operator, container):
    """The network on the operator's input, in the estimator's dtype: ``(graph, raw outputs, dtype, proto dtype)``."""
    from skl2onnx.common.data_types import guess_proto_type

    from mlp.io.onnx import elem_type, network

    est = operator.raw_operator
    g = _Skl2OnnxGraph(scope, container)
    layers, params, dtype = _network_of(est)
    proto = guess_proto_type(operator.inputs[0].type)
    x = operator.inputs[0].full_name
    if proto != elem_type(dtype):  # the estimator reads X in its own dtype, as predict does
        x = g.node("Cast", [x], to=elem_type(dtype), hint="cast_input")
    return g, network(g, x, layers, params, dtype), dtype, proto


def _output_as(g, x, dtype, proto, name):
    from mlp.io.onnx import elem_type

    if elem_type(dtype) == proto:
        return g.node("Identity", [x], outputs=[name])
    return g.node("Cast", [x], to=proto, outputs=[name])


def _classifier_labels(scope, est):
    """The labels the classifier's ``label`` output carries, as skl2onnx declared them (int64 or strings)."""
    from skl2onnx.common.utils_classifier import get_label_classes

    from mlp.io.onnx import ExportError

    classes = np.asarray(get_label_classes(scope, est))
    if classes.dtype.kind in "US" or classes.dtype == object:
        return [str(c) for c in classes]
    if classes.dtype.kind == "f" and not np.all(np.mod(classes, 1) == 0):
        raise ExportError(
            f"{type(est).__name__}: class labels {classes.tolist()[:5]} are not integers; skl2onnx "
            "classifiers output int64 or string labels"
        )
    return [int(c) for c in classes]


def _multilabel(est) -> bool:
    # one logistic output per label (an indicator matrix y): scikit-learn's own test of the fitted head
    return est.out_activation_ == "logistic" and int(est.coefs_[-1].shape[1]) > 1


def _convert_classifier(scope, operator, container):
    """The estimator's ``predict_proba`` and ``predict``: as scikit-learn's ``LabelBinarizer`` decodes its head."""
    from mlp.io.onnx import decode_labels, elem_type

    est = operator.raw_operator
    g, z, dtype, proto = _forward(scope, operator, container)
    label = operator.outputs[0].full_name
    if est.out_activation_ == "softmax":
        p = g.node("Softmax", [z], axis=1, hint="softmax")
        index = g.node("ArgMax", [p], axis=1, keepdims=0, hint="index")
    elif _multilabel(est):  # the indicator matrix, int64 (N, n_labels)
        p = g.node("Sigmoid", [z], hint="sigmoid")
        half = g.const(np.asarray(0.5, dtype=dtype), "half")
        g.node("Cast", [g.node("Greater", [p, half], hint="on")], to=elem_type(np.int64), outputs=[label])
        index = None
    else:  # two classes on one logistic output: columns [1 - p, p], the label where p > 0.5
        p1 = g.node("Sigmoid", [z], hint="sigmoid")
        p = g.node(
            "Concat",
            [g.node("Sub", [g.const(np.asarray(1.0, dtype=dtype), "one"), p1], hint="p0"), p1],
            axis=1,
            hint="p01",
        )
        flat = g.node("Reshape", [p1, g.const(np.array([-1], dtype=np.int64), "flat")], hint="p_flat")
        half = g.const(np.asarray(0.5, dtype=dtype), "half")
        index = g.node("Cast", [g.node("Greater", [flat, half], hint="above")], to=elem_type(np.int64), hint="index")
    if index is not None:
        decode_labels(g, index, _classifier_labels(scope, est), outputs=[label])
    _output_as(g, p, dtype, proto, operator.outputs[1].full_name)


def _classifier_shape(operator):
    """skl2onnx's shapes for a classifier; a multilabel one's label is the (N, n_labels) indicator matrix."""
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)
    est = operator.raw_operator
    if _multilabel(est):
        n = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType([n, int(est.coefs_[-1].shape[1])])


def _convert_regressor(scope, operator, container):
    """The estimator's ``predict`` as ``(N, n_outputs)``: the identity head, or ``exp`` for ``loss="poisson"``."""
    g, z, dtype, proto = _forward(scope, operator, container)
    if operator.raw_operator.out_activation_ == "exp":
        z = g.node("Exp", [z], hint="exp")
    _output_as(g, z, dtype, proto, operator.outputs[0].full_name)


def _regressor_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    kind = type(operator.inputs[0].type)
    if kind not in (FloatTensorType, DoubleTensorType):
        kind = FloatTensorType
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = kind([n, int(operator.raw_operator.coefs_[-1].shape[1])])


def register(*estimators):
    """Register skl2onnx converters for ``estimators`` (mlp.sklearn's classes; idempotent).

    The classes are handed in rather than imported, so that :mod:`mlp.sklearn` can call
    :func:`register_when_imported` without an import cycle.  Classifiers (subclasses of
    scikit-learn's ``ClassifierMixin``) get the classifier converter, the others the regressor's.

    Raises
    ------
    ImportError
        skl2onnx (or scikit-learn) is not installed; the message says how to install it.
    """
    try:
        from skl2onnx import update_registered_converter
        from sklearn.base import ClassifierMixin
    except ImportError as e:
        raise ImportError(f"converting mlp.sklearn pipelines needs skl2onnx ({e}): pip install skl2onnx") from None
    for cls in estimators:
        if cls in _registered:
            continue
        if issubclass(cls, ClassifierMixin):
            update_registered_converter(
                cls, f"Mlp{cls.__name__}", _classifier_shape, _convert_classifier, options=dict(_CLASSIFIER_OPTIONS)
            )
        else:
            update_registered_converter(cls, f"Mlp{cls.__name__}", _regressor_shape, _convert_regressor)
        _registered.add(cls)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``skl2onnx`` is about to be imported, arranges :func:`register` right after."""

    def __init__(self):
        self.estimators = []

    def find_spec(self, name, path=None, target=None):
        if name != "skl2onnx":
            return None
        sys.meta_path.remove(self)  # once: the real finders locate the package
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module, estimators = spec.loader.exec_module, self.estimators

        def exec_then_register(module):
            exec_module(module)
            try:
                register(*estimators)
            except Exception as e:  # never break the user's own import of skl2onnx
                import warnings

                warnings.warn(f"mlp could not register its skl2onnx converters: {e}", RuntimeWarning, stacklevel=2)

        spec.loader.exec_module = exec_then_register  # this spec's own loader object, made for this import
        return spec


def register_when_imported(*estimators):
    """:func:`register` ``estimators`` now if skl2onnx is imported, else as soon as it is; nothing if not installed.

    Cheap: skl2onnx (and onnx) are not imported by this call.
    """
    if "skl2onnx" in sys.modules:
        register(*estimators)
        return
    hook = next((f for f in sys.meta_path if isinstance(f, _AfterImport)), None)
    if hook is None:
        if importlib.util.find_spec("skl2onnx") is None:
            return
        hook = _AfterImport()
        sys.meta_path.insert(0, hook)
    hook.estimators.extend(e for e in estimators if e not in hook.estimators)
