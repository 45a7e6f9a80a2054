"""skl2onnx converters for :mod:`mlp.sklearn`, under the name documented before they moved.

They live in :mod:`mlp.sklearn.onnx`; this module re-exports its two public functions, so that ``import
mlp.sklearn_onnx`` and ``from mlp.sklearn_onnx import register`` keep working.
"""

from mlp.sklearn.onnx import register, register_when_imported

__all__ = ["register", "register_when_imported"]
