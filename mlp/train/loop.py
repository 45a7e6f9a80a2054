"""Training: :func:`fit` and :func:`evaluate`, built from three parts.

* **the batch order** (:mod:`mlp.train.batches`): a ``(seed, epoch)`` permutation of the data,
  which moved to the model's device once; a resumed run starts at its step offset;
* **the step** (:mod:`mlp.core.step`): :class:`StepRunner` runs steps ``first..last-1`` of an
  epoch through the pure step, or through the backend's compiled loop of steps (JAX);
* **the loop** (:func:`fit`; :func:`run_epoch` of :mod:`mlp.train.epoch`): chunks of steps between two host
  reads of the losses (about every 0.2 s), where the progress bar, Ctrl-C and divergence are handled,
  then per-epoch metrics and callbacks.  A table streamed from disk goes to :mod:`mlp.train.streaming`.

``fit`` resolves its inputs, takes the strategy of :mod:`mlp.train.strategy` (one process, or data-parallel over
a communicator's processes: the step runner, the Ctrl-C check, the epoch's logs, the callbacks and the progress bar
are its) and runs the epochs.

A GPU is never stalled by a per-step synchronisation: the host reads the losses once
per chunk.  Those reads also detect divergence: the parameters and optimizer state are
snapshotted at each read, and when a NaN or Inf loss shows up the steps since the
snapshot are replayed to stop exactly before the first bad step (see
:class:`mlp.DivergenceError`).
"""

from __future__ import annotations

from mlp.core.losses import get_loss
from mlp.core.tasks import task_of_loss
from mlp.core.validate import non_negative, non_negative_int, positive_int

from . import metrics
from .batches import batch_order, n_steps, prepare
from .callbacks import (  # noqa: F401
    KEYS,
    Callback,
    EarlyStopping,
    FitState,
    HalveOnPlateau,
    History,
    ModelCheckpoint,
    Resume,
    save_training_state,
)
from .epoch import check_optimizer, run_epoch
from .strategy import fit_state, run_epochs, strategy_for
from .threads import with_default


def l2_weight_decay(lmbda: float, n: int) -> float:
    """The book's L2 regularisation as an optimizer ``weight_decay``.

    The book adds ``lmbda / (2 n) * sum(w**2)`` to the cost (n: training-set size), so
    each step also subtracts ``eta * lmbda / n * w`` from the weights: ``weight_decay = lmbda / n``.
    """
    non_negative("lmbda", lmbda, "l2")
    positive_int("n", n, "l2")
    return float(lmbda) / n


def l1_strength(lmbda: float, n: int) -> float:
    """The book's L1 regularisation as an optimizer ``l1``.

    The book adds ``lmbda / n * sum(|w|)`` to the cost, so each step also subtracts
    ``eta * lmbda / n * sign(w)`` from the weights: ``l1 = lmbda / n``.
    """
    non_negative("lmbda", lmbda, "l1")
    positive_int("n", n, "l1")
    return float(lmbda) / n


# -- evaluation ---------------------------------------------------------------------------------
@with_default
def evaluate(
    model, X, y, loss=None, batch_size: int = 10_000, task: str | None = None, sample_weight=None, confusion=None
) -> dict:
    """Metrics of ``model`` on ``(X, y)`` in evaluation mode.

    Classification (``y`` integer labels ``(n,)`` or targets ``(n, n_out)``): ``{"accuracy"}``;
    regression (``task="regression"``, or a mean squared error ``loss``): ``{"mse", "mae", "r2"}``.
    With ``loss`` the mean loss is added as ``"loss"``.  With ``sample_weight`` ``(n,)`` every metric is a
    weighted mean (R2 as scikit-learn's ``r2_score(..., sample_weight=...)``).  ``confusion``: an integer array
    ``(n_classes, n_classes)`` that classification adds its counts of (true, predicted) classes to.
    """
    task = task_of_loss(get_loss(loss if loss is not None else "quadratic"), task)
    loss = get_loss(loss).bind(model.K) if loss is not None else None
    data = prepare(model, X, y, "", task, sample_weight=sample_weight)
    result = metrics.measure(
        model, loss, *data, task=task, batch_size=positive_int("batch_size", batch_size), counts=confusion
    )
    if loss is None:
        del result["loss"]
    return result


# -- the loop ------------------------------------------------------------------------------------
def _postfix(logs, task, train_metrics, has_val):
    main = "r2" if task == "regression" else "accuracy"
    short = {"accuracy": "acc", "r2": "r2"}[main]
    shown = {"loss": f"{logs['loss']:.4f}", short: f"{logs[main]:.4f}"} if train_metrics else {}
    if has_val:
        shown[f"val_{short}"] = f"{logs['val_' + main]:.4f}"
    return shown


#: fit's keywords of where a run goes on from, before :class:`Resume` (still taken): each one's field of it
RESUME_KEYWORDS = {"initial_epoch": "epoch", "initial_step": "step", "history": "history", "extra": "extra"}


def resume_of(resume: Resume | None, keywords: dict) -> Resume:
    """The :class:`Resume` of ``fit(..., resume=...)`` or of its keywords ``initial_epoch``, ``initial_step``,
    ``history`` and ``extra`` (checked under their own names); a new run's when neither is given."""
    unknown = sorted(set(keywords) - set(RESUME_KEYWORDS))
    if unknown:
        raise TypeError(f"fit() got an unexpected keyword argument {unknown[0]!r}")
    if resume is None:
        for name in ("initial_epoch", "initial_step"):
            if name in keywords:
                non_negative_int(name, keywords[name])
        return Resume(**{RESUME_KEYWORDS[k]: v for k, v in keywords.items()})
    if not isinstance(resume, Resume):
        raise TypeError(f"resume must be an mlp.train.callbacks.Resume, got {type(resume).__name__}")
    if keywords:
        raise TypeError(f"fit: give resume= or {', '.join(sorted(keywords))}, not both")
    return resume


@with_default
def fit(
    model,
    X,
    y,
    *,
    loss,
    optimizer,
    epochs: int,
    batch_size: int,
    validation_data=None,
    shuffle: bool = True,
    seed: int = 0,
    progress: bool = True,
    callbacks=(),
    train_metrics: bool = True,
    task: str | None = None,
    compiled: bool | None = None,
    reduce=None,
    communicator=None,
    sample_weight=None,
    class_weight=None,
    resume: Resume | None = None,
    **resume_keywords,
) -> History:
    """Train ``model`` with mini-batch gradient descent.

    ``fit(model, X, y, *, loss, optimizer, epochs, batch_size, validation_data=None, shuffle=True, seed=0,
    progress=True, callbacks=(), train_metrics=True, task=None, compiled=None, reduce=None, communicator=None,
    sample_weight=None, class_weight=None, resume=None, initial_epoch=0, initial_step=0, history=None,
    extra=None)``

    Parameters
    ----------
    model : Sequential
    X : array, shape (n_samples, n_in), or a streamed table
        Host NumPy data or an array on the model's backend; or a table streamed from disk, with ``y=None``
        (``mlp.tables.stream_table(...)`` once encoded, or its ``.rows()``): trained a window at a time, in the
        order of :mod:`mlp.train.windows` (see :mod:`mlp.train.streaming`); ``validation_data`` may then be the
        same table (its validation rows) or its ``.rows("val")``.
    y : array, shape (n_samples,) or (n_samples, n_out)
        Classification: integer class labels (one-hot targets are made as the loss needs) or
        targets.  Regression: float targets.
    loss : Loss, class or name
    optimizer : Optimizer
    epochs : int
        Train until this many epochs are done in total (counting the resumed ones).
    batch_size : int
        Mini-batch size; the last batch of an epoch may be smaller.
    validation_data : (X_val, y_val), (X_val, y_val, sample_weight_val) or None
    shuffle : bool
        Shuffle every epoch with ``numpy.random.default_rng((seed, epoch))``.
    seed : int
        Also keys the per-step random numbers (dropout).
    progress : bool
        A tqdm bar per epoch with samples/s and the running loss.
    callbacks : sequence of Callback
    train_metrics : bool
        Measure the metrics on the whole training set after each epoch (a forward pass in
        large batches, outside ``seconds``); ``False`` logs ``nan``.
    task : {"classification", "regression"} or None
        None: regression for a mean squared error loss, classification otherwise.  Sets the
        metrics (accuracy; or MSE, MAE and R2) and what callbacks monitor by default.
    compiled : bool or None
        Run chunks of steps as one compiled call where the backend can (JAX); None: where it can.
    reduce : callable or None
        A gradient hook between backward and update (see :func:`mlp.core.step.make_step`).
    communicator : backends.comm.Communicator or None
        Data-parallel training over the processes of an MPI job (``backends.comm.get_communicator(True)``
        under ``mpiexec -n N``): each process takes its shard of every global batch of ``batch_size``
        and the gradients are averaged; the result is that of one process (see :mod:`mlp.train.distributed`).
        Only rank 0 shows progress and writes checkpoints.  None or one process: nothing changes.
    sample_weight : array (n_samples,) or None
        Non-negative weights: each step minimises the weighted mean loss of its batch
        (``sum(w * loss_i) / sum(w)``), and the metrics are weighted means.  Under MPI the weight sums
        are reduced, not the row counts.
    class_weight : "balanced", dict or None
        Classification: a weight per class index (``"balanced"``: ``n / (n_classes * count)``, as
        scikit-learn), multiplying ``sample_weight``.
    resume : Resume or None
        Where the run goes on from (:class:`mlp.train.callbacks.Resume`): epochs already done, steps already
        done in the next one, the history to continue and the metadata its checkpoints carry.
    initial_epoch, initial_step, history, extra
        The same as separate keywords (instead of ``resume``): ``Resume(initial_epoch, initial_step,
        history, extra)``.

    Returns
    -------
    History

    Raises
    ------
    ValueError, TypeError
        Before any step: data of the wrong shape, kind or backend, NaN/Inf rows, labels out of range,
        an empty data set, a bad ``epochs``/``batch_size``/``initial_step``, ``optimizer`` not an
        :class:`mlp.Optimizer` (the message names the argument and the shapes or values).
    DivergenceError
        The loss became NaN or Inf; the model keeps the weights it had before that step.
    TrainingInterrupted
        Ctrl-C: raised between two steps (``.epoch``, ``.step`` say where), model and
        optimizer consistent, ready to be checkpointed and resumed.
    """
    resume = resume_of(resume, resume_keywords)
    epochs, batch_size = positive_int("epochs", epochs), positive_int("batch_size", batch_size)
    rows, validation_data = _streamed_rows(X, y, validation_data, sample_weight, reduce, compiled, shuffle)
    if rows is not None:  # a table streamed from disk, a window at a time
        from .streaming import fit_rows

        return fit_rows(
            model,
            rows,
            loss=loss,
            optimizer=optimizer,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            seed=seed,
            progress=progress,
            callbacks=callbacks,
            train_metrics=train_metrics,
            task=task,
            strategy=strategy_for(communicator),
            class_weight=class_weight,
            resume=resume,
        )
    # the inputs: loss, task and data checked, the data on the device
    loss = get_loss(loss)
    task = task_of_loss(loss, task)
    check_optimizer(optimizer)
    train, val = _prepare_data(model, X, y, validation_data, task, batch_size, resume.step, sample_weight, class_weight)
    n = train.X.shape[0]
    state = fit_state(model, optimizer, loss, task, epochs, seed, resume)
    # the strategy: one process, or data-parallel (the same settings and rank 0's weights everywhere)
    strategy = strategy_for(communicator, reduce)
    strategy.start(
        model, optimizer, resume, samples=n, batch_size=batch_size, epochs=epochs, seed=seed, shuffle=shuffle
    )
    runner = strategy.runner(
        model, loss, optimizer, batch_size, n, seed, compiled=compiled, weighted=train.w is not None
    )
    steps_T = train.targets_with_weights()  # what the steps slice: the weights travel with the targets

    # the epochs
    def one_epoch(epoch, bar, interrupted):
        runner.set_epoch(epoch, *_in_batch_order(model, train.X, steps_T, seed, epoch, shuffle))
        seconds = run_epoch(runner, state, resume.step if epoch == resume.epoch else 0, bar, interrupted)
        logs = {**strategy.epoch_logs(state, seconds, train, val, train_metrics), "batch_loss": state.batch_loss}
        if bar is not None:
            bar.set_postfix(_postfix(logs, task, train_metrics, val is not None), refresh=False)
        return logs

    return run_epochs(strategy, state, callbacks, progress, resume.epoch, n, one_epoch)


def _streamed_rows(X, y, validation_data, sample_weight, reduce, compiled, shuffle):
    """``(training rows, validation rows or None)`` when ``X`` is a streamed table or its rows
    (:class:`mlp.io.tables.stream.StreamedRows`), checked against the arguments that do not apply to it;
    ``(None, validation_data)`` for arrays."""
    from mlp.io.tables.stream import StreamedRows, StreamedTable

    if isinstance(X, StreamedTable):  # its training rows (encoded: StreamedTable.encode)
        X = X.rows()
    if isinstance(validation_data, StreamedTable):
        validation_data = validation_data.rows("val")
    if not isinstance(X, StreamedRows):
        return None, validation_data
    if y is not None or sample_weight is not None or reduce is not None or compiled or not shuffle:
        raise ValueError(
            "fit of streamed rows: y, sample_weight, reduce, compiled and shuffle=False do not "
            "apply (the rows carry their targets; the order is the stream's windows)"
        )
    if validation_data is not None and not isinstance(validation_data, StreamedRows):
        raise TypeError("fit of streamed rows: validation_data must be streamed rows too (StreamedTable.rows)")
    return X, validation_data


def _prepare_data(model, X, y, validation_data, task, batch_size, initial_step, sample_weight, class_weight):
    """The training and validation :class:`mlp.train.batches.Data`, checked and on the device."""
    train = prepare(model, X, y, "", task, sample_weight=sample_weight, class_weight=class_weight)
    val = None
    if validation_data is not None:
        if len(validation_data) not in (2, 3):
            raise ValueError("validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, sample_weight)")
        val = prepare(
            model,
            validation_data[0],
            validation_data[1],
            "validation_data ",
            task,
            sample_weight=validation_data[2] if len(validation_data) == 3 else None,
        )
    n = train.X.shape[0]
    steps = n_steps(n, batch_size)
    if initial_step >= steps:
        raise ValueError(
            f"initial_step={initial_step}, but an epoch has only {steps} steps ({n} samples, batch_size "
            f"{batch_size}); was the run saved with another data set or batch size?"
        )
    return train, val


def _in_batch_order(model, Xd, Td, seed, epoch, shuffle):
    """The epoch's data in its ``(seed, epoch)`` order, on the device."""
    order = batch_order(Xd.shape[0], seed, epoch, shuffle)
    if order is None:
        return Xd, Td
    order = model.backend.asarray(order)
    return model.xp.take(Xd, order, axis=0), model.xp.take(Td, order, axis=0)
