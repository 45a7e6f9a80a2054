"""The table recipe: what ``mlp train`` trains on a table of your own, and ``mlp.sklearn.TabularClassifier`` and
``TabularRegressor`` on a data frame, in one place (each value chosen by measurement: ``docs/own_data.md``).

The table's side (robust scaling and its clip, the regression clamp, codes for the categories) is the
preprocessor's (:mod:`mlp.io.tables.preprocessing`); this module holds the network's and the training's.
"""

from __future__ import annotations

__all__ = [
    "NUMERIC_EMBEDDINGS",
    "PERIODIC_MOST_ROWS",
    "TABLE_DEFAULTS",
    "TABLE_MONITOR",
    "TABLE_MOST_EPOCHS",
    "TABLE_NUMERIC_EMBEDDING",
    "TABLE_PATIENCE",
    "TABLE_SCHEDULE",
    "TABLE_STEPS",
    "VAL_SPLIT",
    "numeric_embedding",
    "table_epochs",
]

#: one hidden layer of 100 (ReLU, He init), Adam (as scikit-learn's MLP) at lr 0.003 (0.001 left the median score
#: of examples/compare_tables.py's tables 0.009 lower, three splits each), batch 32, a budget of 50 epochs
TABLE_DEFAULTS = dict(hidden=[100], optimizer="adam", lr=0.003, epochs=50, batch_size=32)
#: a small table gets more than TABLE_DEFAULTS' epochs (without --epochs): at least this many optimizer steps
#: (iris, 120 training rows, 4 steps an epoch: 250 epochs; 50 left it at validation loss 0.16 to 0.42, 250 at
#: 0.01 to 0.25, four seeds), and at most TABLE_MOST_EPOCHS epochs
TABLE_STEPS, TABLE_MOST_EPOCHS = 1000, 500
#: the share of a table held out for validation (early stopping) when no validation data is given
VAL_SPLIT = 0.2
#: early stopping: stop after this many epochs without a better validation score (the monitor below), the best
#: epoch's weights kept
TABLE_PATIENCE = 20
#: what early stopping watches on a table: the validation loss (finer than the accuracy of a small split)
TABLE_MONITOR = "val_loss"
#: the learning-rate schedule: constant, or a cosine decay over the budget
TABLE_SCHEDULE = "constant"
#: the numeric embedding before the first layer: "periodic" (mlp.PeriodicEmbedding), "none", or "auto": periodic for
#: a table of at most PERIODIC_MOST_ROWS training rows, none above.  Periodic raised the score on 11 of
#: examples/compare_public.py's 18 tables (263 to 53,940 rows) and lowered it on 4, by at most 0.017; its cosines
#: (16 a number a row) cost more than the rest of a small network's step on a large table (docs/own_data.md)
TABLE_NUMERIC_EMBEDDING = "auto"
NUMERIC_EMBEDDINGS = ("auto", "periodic", "none")
PERIODIC_MOST_ROWS = 100_000


def numeric_embedding(choice: str | None, n_rows: int, scaled: bool = True) -> str | None:
    """The numeric embedding :meth:`mlp.tables.Preprocessor.input_layers` gets for ``choice`` (one of
    :data:`NUMERIC_EMBEDDINGS`, None as ``"none"``) on a table of ``n_rows`` training rows whose numbers are
    ``scaled`` or not: ``"periodic"`` or None.  Periodic features read scaled numbers (their frequencies start at
    about 0.1 a unit): "auto" gives none on numbers as they are, and "periodic" is refused there."""
    if choice not in (*NUMERIC_EMBEDDINGS, None):
        raise ValueError(f"numeric embedding must be one of {', '.join(NUMERIC_EMBEDDINGS)}, got {choice!r}")
    if choice == "auto":
        return "periodic" if n_rows <= PERIODIC_MOST_ROWS and scaled else None
    if choice == "periodic" and not scaled:
        raise ValueError(
            "the periodic numeric embedding reads scaled numbers (its frequencies start near 0.1 a "
            "unit); scale them (drop --no-standardize, or scaling=None) or choose no numeric embedding"
        )
    return None if choice in (None, "none") else choice


def table_epochs(n: int, batch_size: int, epochs: int) -> int:
    """``epochs``, or more for a small table of ``n`` rows: enough for :data:`TABLE_STEPS` steps, at most
    :data:`TABLE_MOST_EPOCHS` epochs."""
    steps = -(-n // batch_size)
    return max(epochs, min(TABLE_MOST_EPOCHS, -(-TABLE_STEPS // steps)))
