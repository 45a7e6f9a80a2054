"""One registry per kind of component: layers, activations, losses, optimizers, data sets.

Configs, checkpoints and the command line all look components up here, so a
new one is one class plus one ``@REGISTRY.register(...)`` line.
"""

from __future__ import annotations


class Registry:
    """Names (and aliases) of one kind of component, mapped to the component.

    Parameters
    ----------
    kind : str
        What the registry holds ("layer", "loss", ...): used in error messages.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict = {}
        self._aliases: dict = {}

    def register(self, name: str, *aliases: str):
        """Decorator: register ``obj`` under ``name`` (the name configs and the CLI show) and ``aliases``."""

        def add(obj):
            for key in (name, *aliases):
                if key in self._items or key in self._aliases:
                    raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._items[name] = obj
            for alias in aliases:
                self._aliases[alias] = name
            return obj

        return add

    def canonical(self, name) -> str:
        """The registered name for ``name`` or an alias (case and ``-``/``_`` insensitive)."""
        key = str(name)
        if key not in self._items:
            key = key.lower().replace("-", "_")
            key = self._aliases.get(key, key)
        if key not in self._items:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self._items)}")
        return key

    def get(self, name):
        return self._items[self.canonical(name)]

    def names(self) -> list:
        return list(self._items)

    def items(self):
        return self._items.items()

    def __contains__(self, name) -> bool:
        try:
            self.canonical(name)
        except ValueError:
            return False
        return True

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, name):
        return self.get(name)


LAYERS = Registry("layer")
#: hidden-layer activations by their short names (the CLI's --activation, build_mlp's activation=)
ACTIVATIONS = Registry("activation")
LOSSES = Registry("loss")
OPTIMIZERS = Registry("optimizer")
#: learning-rate schedules (filled by :mod:`mlp.core.schedules`)
SCHEDULES = Registry("schedule")
#: built-in data sets (filled by :mod:`mlp.io.datasets`): name -> loader of ``(X, y), (X_test, y_test)``
DATASETS = Registry("data set")
#: weight initialisations of :class:`mlp.core.layers.Linear`
INITS = ("normal", "nielsen", "xavier", "he")
