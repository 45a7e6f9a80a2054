"""Tables larger than memory: the table pipeline run a group of rows at a time, in two passes, the files read once.

:func:`stream_table` reads a :class:`~mlp.io.tables.sources.Source` (Parquet files by row group, a CSV file by
block) and gives a :class:`StreamedTable`:

1. **The first pass** counts what every stage needs, a group at a time: each column's values by what they are
   (:class:`~mlp.io.tables.summary.ColumnSummary`: the column kinds), the target's labels (the task, the classes),
   and over the training rows what the encoders are fitted on (:class:`ColumnFit`: the numbers' count, mean and
   squared deviations, combined block by block as Chan, Golub and LeVeque do; the categories' counts; the medians
   of a keyed sample of :data:`SAMPLE` rows, or, for text, exact from the counts of its distinct values).  It also
   keeps the typed columns it read on local disk (:class:`Spill`).
2. Kinds, task, classes and the :class:`~mlp.io.tables.preprocessing.Preprocessor` follow from those counts, by
   the same rules as a table in memory (the medians of numbers excepted: from the sample).
3. **The second pass** encodes each group of that copy (or, without it, of the files read again) into the model's
   inputs and writes them, with the targets, to a cache on disk (a training file and a validation file, the
   model's dtype), a group after another.

Which rows validate is a keyed hash of the row's number (:func:`held_out`), not a draw over the rows: the same in
both passes and in every process.  With several processes (``comm``), each reads its share of the groups
(Parquet: only those), the counts are gathered, and every process fits the same preprocessing; each keeps its own
rows' cache.  Memory is a group and the counts (distinct labels are kept up to
:data:`~mlp.io.tables.summary.CAP` per column, :class:`~mlp.io.tables.summary.Levels`), never the table.

The training order over the cache is :class:`mlp.train.windows.WindowPlan`'s.  Needs pyarrow.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import tempfile

import numpy as np

from mlp.core.errors import DataError
from mlp.core.tasks import TASKS, task_of_target

from .arrow import gaps_of_text
from .cells import label_key, level_dates, number_of, python_label, sort_key
from .encoders import MAX_CODES, MAX_LEVELS, NEW_DATE_PARTS, Column
from .kinds import ColumnKind, KindsOf, asked, infer_kinds, kind_lines
from .preprocessing import CLIP, Preprocessor, robust_statistics
from .sources import CsvSource, Restart, open_source
from .summary import ColumnSummary, Levels
from .target import labels_of_text, resolve_targets
from .typed import Coded, Dates, Numbers, Table
from .values import as_levels, as_numbers, check_spread

__all__ = [
    "SAMPLE",
    "Cache",
    "ColumnFit",
    "StreamedRows",
    "StreamedTable",
    "by_groups",
    "groups_for",
    "held_out",
    "read_types",
    "row_hash",
    "stream_for",
    "stream_table",
]

#: rows of a column's keyed sample, whose median is the fill value of a column of numbers streamed (0.5 MB a column;
#: a table of at most this many training rows has its exact median)
SAMPLE = 1 << 15
_VALIDATION_KEY, _SAMPLE_KEY = 0x5DEECE66D, 0x2545F4914F6CDD1D


def row_hash(rows, key: int) -> np.ndarray:
    """A 64-bit hash (SplitMix64) of each row number, keyed: the same for a row in every pass and process."""
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (key + 1)) & 0xFFFFFFFFFFFFFFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def held_out(rows, fraction: float, seed: int) -> np.ndarray:
    """Whether each row number is a validation row: a keyed hash under ``fraction`` of its range."""
    if not fraction:
        return np.zeros(len(rows), dtype=bool)
    return row_hash(rows, seed ^ _VALIDATION_KEY) < np.uint64(int(fraction * 2.0**64))


# -- counting ------------------------------------------------------------------------------------------------
class _Moments:
    """Count, mean and sum of squared deviations of values, combined block by block (Chan, Golub, LeVeque); the
    smallest and largest of the values added with :meth:`add_values`."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.low, self.high = math.inf, -math.inf

    def add_values(self, x: np.ndarray):
        if x.size:
            self._combine(x.size, float(x.mean()), float(((x - x.mean()) ** 2).sum()))
            self.low, self.high = min(self.low, float(x.min())), max(self.high, float(x.max()))

    def _combine(self, k, mu, q):
        if not self.n:
            self.n, self.mean, self.m2 = k, mu, q
            return
        n, delta = self.n + k, mu - self.mean
        self.mean += delta * k / n
        self.m2 += q + delta * delta * self.n * k / n
        self.n = n

    def merge(self, other: "_Moments"):
        if other.n:
            self._combine(other.n, other.mean, other.m2)
            self.low, self.high = min(self.low, other.low), max(self.high, other.high)

    def with_gaps(self, gaps: int, fill: float):
        """The mean and standard deviation of these values and ``gaps`` more equal to ``fill``."""
        out = _Moments()
        out.merge(self)
        if gaps:
            out._combine(gaps, fill, 0.0)
        return out.mean, math.sqrt(out.m2 / out.n) if out.n else 0.0


class _Sample:
    """The values of the rows with the smallest keyed hashes, at most :data:`SAMPLE`: the same for any split of
    the rows into blocks and processes."""

    def __init__(self, width: int = 1):
        self.keys = np.empty(0, dtype=np.uint64)
        self.values = np.empty((0, width))

    def add(self, keys, values):
        if not len(keys):
            return
        self.keys = np.concatenate([self.keys, keys])
        self.values = np.concatenate([self.values, np.asarray(values).reshape(len(keys), self.values.shape[1])])
        if len(self.keys) > SAMPLE:
            keep = np.argpartition(self.keys, SAMPLE)[:SAMPLE]
            self.keys, self.values = self.keys[keep], self.values[keep]

    def merge(self, other: "_Sample"):
        self.add(other.keys, other.values)


def _scaled(mean, scale):
    return mean, scale if scale > 1e-12 * max(1.0, abs(mean)) else 1.0


class ColumnFit:
    """What a column's encoder is fitted on, counted over the training rows a group at a time (see
    :class:`~mlp.io.tables.encoders.Column`): numbers' moments and keyed sample, text's distinct values and their
    counts, dates' moments and sample, and the gaps."""

    def __init__(self, labels_of_numbers: bool = False, labels_only: bool = False):
        self.rows = self.gaps = 0
        self.labels_only = labels_only  # a target's: its labels, no numbers nor dates row by row
        self.numbers, self.number_sample = _Moments(), _Sample()
        self.days, self.hours, self.date_sample, self.timed = _Moments(), _Moments(), _Sample(2), False
        self.labels = Levels()  # label key -> [label, training rows, 0]: of text, and of numbers when asked for
        # text read as numbers and as dates, row by row: what a column of more distinct values than its labels
        # keep (capped) is fitted on
        self.text_numbers, self.text_number_sample, self.not_numbers = _Moments(), _Sample(), 0
        self.text_days, self.text_hours, self.text_date_sample = _Moments(), _Moments(), _Sample(2)
        self.labels_of_numbers = labels_of_numbers  # a column of numbers named categorical (or a target)

    @property
    def capped(self) -> bool:
        return self.labels.capped

    def add(self, col, keys):
        """The training rows of a group's typed column ``col`` (``keys``: their keyed hashes)."""
        self.rows += len(col)
        self.gaps += int(col.gaps().sum())
        if isinstance(col, Numbers):
            present = ~np.isnan(col.values)
            self.numbers.add_values(col.values[present])
            self.number_sample.add(keys[present], col.values[present])
        elif isinstance(col, Dates):
            present = ~np.isnan(col.days)
            self.days.add_values(col.days[present])
            self.hours.add_values(col.hours[present])
            self.date_sample.add(keys[present], np.stack([col.days[present], col.hours[present]], axis=1))
            self.timed = self.timed or bool(np.any(col.hours[present] != 0))
        if isinstance(col, Coded) and not self.labels_only:
            self._text_values(col, keys)
        if isinstance(col, Coded) or self.labels_of_numbers:
            self._count(as_levels(None, None, column=col))

    def _text_values(self, col, keys):
        """The text's numbers and dates, row by row (each distinct value parsed once)."""
        present = col.codes >= 0
        levels = [python_label(v) for v in col.levels]
        numbers = np.array(
            [np.nan if isinstance(v, bool) or number_of(v) is None else number_of(v) for v in levels] + [np.nan],
            dtype=np.float64,
        )[col.codes]
        good = ~np.isnan(numbers)
        self.text_numbers.add_values(numbers[good])
        self.text_number_sample.add(keys[good], numbers[good])
        self.not_numbers += int((present & ~good).sum())
        days, hours = level_dates([v if isinstance(v, str) else None for v in levels])
        days, hours = np.append(days, np.nan)[col.codes], np.append(hours, np.nan)[col.codes]
        dated = ~np.isnan(days)
        self.text_days.add_values(days[dated])
        self.text_hours.add_values(hours[dated])
        self.text_date_sample.add(keys[dated], np.stack([days[dated], hours[dated]], axis=1))

    def _count(self, coded):
        if coded is None:  # more values than a column of labels holds
            self.labels.capped = True
            return
        counts = coded.counts()
        for k in np.flatnonzero(counts):
            label = coded.levels[k]
            self.labels.add(label_key(label), label, int(counts[k]))

    def finish(self) -> "ColumnFit":
        self.labels.finish()
        return self

    def merge(self, other: "ColumnFit"):
        self.rows += other.rows
        self.gaps += other.gaps
        self.numbers.merge(other.numbers)
        self.number_sample.merge(other.number_sample)
        self.days.merge(other.days)
        self.hours.merge(other.hours)
        self.date_sample.merge(other.date_sample)
        self.timed = self.timed or other.timed
        self.labels.merge(other.labels)
        for a, b in (
            (self.text_numbers, other.text_numbers),
            (self.text_number_sample, other.text_number_sample),
            (self.text_days, other.text_days),
            (self.text_hours, other.text_hours),
            (self.text_date_sample, other.text_date_sample),
        ):
            a.merge(b)
        self.not_numbers += other.not_numbers

    # -- the encoders ---------------------------------------------------------------------------------------
    def _text_numbers(self, lenient):
        """``(values, counts, gaps)`` of the numbers written as text among the labels of a column stored as text
        (text that is not a number: a gap when ``lenient``, else not counted)."""
        values, counts, gaps = [], [], 0
        if self.numbers.n or self.days.n:  # stored as numbers or dates: its labels (if counted) are those values
            return np.zeros(0), np.zeros(0, dtype=np.int64), 0
        for label, count, _ in self.labels.values():
            x = None if isinstance(label, bool) else number_of(label)
            if x is None:
                gaps += count if lenient else 0
                continue
            values.append(x)
            counts.append(count)
        return np.array(values, dtype=np.float64), np.array(counts, dtype=np.int64), gaps

    def encoder(self, name, kind, lenient=False, max_levels=MAX_LEVELS, scaling="standard"):
        """``(Column, means, scales)``: the encoder and the scaling of its inputs (``"standard"``: the mean and
        standard deviation of the filled values; ``"robust"``: :func:`~mlp.io.tables.preprocessing.robust_statistics`
        of the values present, from the keyed sample, or exact from counted distinct values)."""
        if kind == "numeric":
            values, counts, text_gaps = self._text_numbers(lenient)
            moments = _Moments()
            moments.merge(self.numbers)
            if self.numbers.n:  # the median of the keyed sample
                fill = float(np.median(self.number_sample.values[:, 0]))
            elif self.capped:  # numbers written as text, of more distinct values than are counted: row by row
                moments.merge(self.text_numbers)
                sample = self.text_number_sample.values[:, 0]
                fill = float(np.median(sample)) if sample.size else 0.0
                text_gaps = self.not_numbers if lenient else 0
            else:  # numbers written as text: the median of their distinct values, counted (exact)
                for v, c in zip(values, counts, strict=True):
                    moments._combine(int(c), float(v), 0.0)
                fill = _weighted_median(values, counts)
            gaps = self.gaps + text_gaps
            column = Column(name, "numeric", fill=fill, indicator=bool(gaps), lenient=bool(lenient))
            if scaling == "robust":
                if self.numbers.n or self.capped:
                    sample = (self.number_sample if self.numbers.n else self.text_number_sample).values[:, 0]
                    mean, scale = robust_statistics(sample)
                else:
                    mean, scale = robust_statistics(values, counts)
            else:
                mean, scale = _scaled(*moments.with_gaps(gaps, fill))
            return column, [mean] + ([0.0] if gaps else []), [scale] + ([1.0] if gaps else [])
        if kind == "categorical":
            counts = self.labels.entries
            embed = len(counts) > max_levels
            top = sorted(counts, key=lambda k: (-counts[k][1], sort_key(counts[k][0])))
            top = top[: MAX_CODES if embed else max_levels]
            categories = sorted((counts[k][0] for k in top), key=sort_key)
            column = Column(
                name,
                "categorical",
                categories=categories,
                missing=bool(self.gaps),
                codes=True,
                layer="Embedding" if embed else "OneHot",
            )
            return column, [0.0], [1.0]
        # datetime: from dates stored as dates (their sample's medians) and dates written as text (exact)
        texts = [(label, count) for label, count, _ in self.labels.values() if isinstance(label, str)]
        days, hours = level_dates([label for label, _ in texts])
        counts = np.array([c for _, c in texts], dtype=np.float64)
        good = ~np.isnan(days)
        # a column of dates with a few other values (lenient): those rows are gaps, as in a table in memory
        not_dates = (
            (int(counts[~good].sum()) + sum(c for label, c, _ in self.labels.values() if not isinstance(label, str)))
            if lenient
            else 0
        )
        days, hours, counts = days[good], hours[good], counts[good]
        timed = self.timed or bool(np.any((hours != 0) & (counts > 0)))
        if self.capped and not self.days.n:  # dates written as text, of more distinct values than are counted
            return self._dates_row_by_row(name, lenient, scaling)
        parts = [p for p in NEW_DATE_PARTS if timed or p != "hour"]
        if self.days.n:  # stored as dates: the medians of the keyed sample
            fill = [float(np.median(self.date_sample.values[:, j])) for j in range(len(parts))]
        else:  # dates written as text: the medians of their distinct values, counted (exact)
            fill = [_weighted_median(days, counts)] + ([_weighted_median(hours, counts)] if timed else [])
        gaps = self.gaps + not_dates
        column = Column(name, "datetime", fill=fill, indicator=bool(gaps), parts=parts, lenient=bool(lenient))
        means, scales = [], []
        stored = ((self.days, days), (self.hours, hours))[: len(parts)]
        for j, (moments, v) in enumerate(stored):
            if scaling == "robust":
                mean, scale = (
                    robust_statistics(self.date_sample.values[:, j]) if self.days.n else robust_statistics(v, counts)
                )
                means.append(mean)
                scales.append(scale)
                continue
            m = _Moments()
            m.merge(moments)
            for x, c in zip(v, counts, strict=True):
                m._combine(int(c), float(x), 0.0)
            mean, scale = _scaled(*m.with_gaps(gaps, fill[j]))
            means.append(mean)
            scales.append(scale)
        return column, means + ([0.0] if gaps else []), scales + ([1.0] if gaps else [])

    def _dates_row_by_row(self, name, lenient=False, scaling="standard"):
        """The datetime encoder of dates written as text from their row-by-row moments and keyed sample."""
        sample = self.text_date_sample.values
        timed = bool(self.text_hours.n) and (self.text_hours.m2 > 0 or self.text_hours.mean != 0)
        parts = [p for p in NEW_DATE_PARTS if timed or p != "hour"]
        fill = [float(np.median(sample[:, j])) if len(sample) else 0.0 for j in range(len(parts))]
        gaps = self.gaps + (max(0, self.rows - self.gaps - self.text_days.n) if lenient else 0)
        column = Column(name, "datetime", fill=fill, indicator=bool(gaps), parts=parts, lenient=bool(lenient))
        means, scales = [], []
        for j, moments in enumerate((self.text_days, self.text_hours)[: len(parts)]):
            mean, scale = (
                robust_statistics(sample[:, j]) if scaling == "robust" else _scaled(*moments.with_gaps(gaps, fill[j]))
            )
            means.append(mean)
            scales.append(scale)
        return column, means + ([0.0] if gaps else []), scales + ([1.0] if gaps else [])


def _weighted_median(values, weights) -> float:
    """The median of ``values`` each repeated ``weights`` times (NumPy's median of that multiset)."""
    if not len(values) or not np.sum(weights):
        return 0.0
    order = np.argsort(values, kind="stable")
    values, cum = np.asarray(values, dtype=np.float64)[order], np.cumsum(np.asarray(weights, dtype=np.float64)[order])
    total = cum[-1]

    def at(position):  # the value at 0-based ``position`` of the multiset, in order
        return values[min(int(np.searchsorted(cum, position, side="right")), len(values) - 1)]

    if float(total).is_integer() and int(total) % 2 == 1:
        return float(at((total - 1) / 2))
    return float((at(total / 2 - 1) + at(total / 2)) / 2)


# -- the streamed table ------------------------------------------------------------------------------------
class Cache:
    """Encoded rows on disk: ``X`` (n, width) in the model's dtype and ``y`` (n, k) float64 (class index or
    values), one file each, written a group after another; ``groups``: ``{group: (first row, rows)}``.

    The files are opened once and, where the system allows (POSIX), unlinked at once: the disk space they take
    goes back when they are closed or the process ends, however it ends (an error, Ctrl-C, ``MPI_Abort``)."""

    def __init__(self, folder: str, name: str, width: int, dtype: str, targets: int):
        self.folder, self.name, self.width, self.dtype, self.targets = folder, name, width, dtype, targets
        self.rows, self.groups = 0, {}
        paths = [os.path.join(folder, f"{name}.X"), os.path.join(folder, f"{name}.y")]
        self._files = [open(p, "w+b") for p in paths]  # noqa: SIM115 - kept open until close()
        if os.name == "posix":
            for p in paths:
                os.unlink(p)

    def append(self, group, X, y):
        fx, fy = self._files
        fx.seek(0, os.SEEK_END)
        fy.seek(0, os.SEEK_END)
        np.ascontiguousarray(X, dtype=self.dtype).tofile(fx)
        np.ascontiguousarray(y, dtype=np.float64).reshape(len(y), self.targets).tofile(fy)
        self.groups[group] = (self.rows, len(X))
        self.rows += len(X)

    def read(self, first, rows):
        """``(X, y)`` of rows ``first..first+rows-1``."""
        fx, fy = self._files
        itemsize = np.dtype(self.dtype).itemsize
        X = _read_at(fx, first * self.width * itemsize, rows * self.width, self.dtype).reshape(rows, self.width)
        y = _read_at(fy, first * self.targets * 8, rows * self.targets, np.float64).reshape(rows, self.targets)
        return X, y

    def blocks(self, rows=1 << 15):
        """``(X, y)`` a block of ``rows`` at a time, in order."""
        for a in range(0, self.rows, rows):
            yield self.read(a, min(rows, self.rows - a))

    def close(self):
        for f in self._files:
            f.close()


def _read_at(f, offset: int, count: int, dtype) -> np.ndarray:
    """``count`` items of ``dtype`` at byte ``offset`` of the open file ``f`` (written through ``f``)."""
    f.flush()
    out = np.empty(count, dtype=dtype)
    view, done = memoryview(out).cast("B"), 0
    while done < out.nbytes:
        if hasattr(os, "preadv"):
            n = os.preadv(f.fileno(), [view[done:]], offset + done)
        else:
            f.seek(offset + done)
            n = f.readinto(view[done:])
        if not n:
            raise DataError(f"{f.name}: the encoded rows end before row data expected at byte {offset + done}")
        done += n
    return out


class Spill:
    """This process's groups of a table as the first pass read them (their typed columns), kept on local disk so
    that the second pass encodes them without reading the table's files again: the files are read once.

    One file, opened and (POSIX) unlinked at once, as :class:`Cache`'s; the columns' arrays one after another and
    a coded column's distinct values as JSON (a spill never holds Python objects but text, numbers and booleans:
    a group whose values are not of these is not spilled, and the second pass reads the file again).
    """

    def __init__(self, folder: str, name: str):
        path = os.path.join(folder, name)
        self._file = open(path, "w+b")  # noqa: SIM115 - kept open until close()
        if os.name == "posix":
            os.unlink(path)
        self.groups, self.lines, self.whole, self._end = [], None, True, 0

    def clear(self):
        """Forget what was written (the first pass starts over)."""
        self._file.truncate(0)
        self.groups, self.whole, self._end = [], True, 0

    def write(self, group: int, first: int, table: Table):
        if not self.whole:
            return
        try:
            self._write(group, first, table)
        except OSError as e:  # a full disk: the second pass reads the table's files again instead
            if e.errno != errno.ENOSPC:
                raise
            self.clear()
            self.whole = False

    def _write(self, group, first, table):
        columns = []
        for col in table.columns:
            if isinstance(col, Numbers):
                columns.append(("numbers", self._put(col.values)))
            elif isinstance(col, Dates):
                columns.append(("dates", self._put(col.days), self._put(col.hours), col.style))
            else:
                try:
                    text = json.dumps(col.levels, allow_nan=True).encode("utf-8", "surrogatepass")
                except (TypeError, ValueError):  # values JSON does not hold: this table is read again instead
                    self.clear()
                    self.whole = False
                    return
                columns.append(("coded", self._put(col.codes), self._put(np.frombuffer(text, dtype=np.uint8))))
        self.groups.append((group, first, table.n_rows, list(table.names), columns))
        self.lines = self.lines or table.lines

    def _put(self, values: np.ndarray):
        values = np.ascontiguousarray(values)
        self._file.seek(self._end)
        values.tofile(self._file)
        at, self._end = self._end, self._end + values.nbytes
        return at, values.dtype.str, values.size

    def _get(self, part) -> np.ndarray:
        at, dtype, size = part
        return _read_at(self._file, at, size, np.dtype(dtype))

    def tables(self, path: str):
        """``(group, first row, Table)`` of every group written, in order."""
        for group, first, n, names, columns in self.groups:
            typed = []
            for kind, *parts in columns:
                if kind == "numbers":
                    typed.append(Numbers(self._get(parts[0])))
                elif kind == "dates":
                    typed.append(Dates(self._get(parts[0]), self._get(parts[1]), parts[2]))
                else:
                    typed.append(
                        Coded(
                            self._get(parts[0]),
                            json.loads(self._get(parts[1]).tobytes().decode("utf-8", "surrogatepass")),
                        )
                    )
            yield group, first, Table(path, names, typed, named=True, n_rows=n, offset=first, lines=self.lines)

    def close(self):
        self._file.close()


class StreamedRows:
    """What :func:`mlp.fit` trains on (or measures) from a streamed table: this process's encoded rows on disk.

    ``layout``: the rows of every group, of every process, in group order (what the training order is drawn
    over); ``task``; ``class_counts``: the rows of each class, of every process (classification).
    """

    def __init__(self, cache: Cache, layout, task, class_counts=None):
        self.cache, self.layout, self.task, self.class_counts = cache, list(layout), task, class_counts
        self.width, self.dtype = cache.width, cache.dtype

    def __len__(self):
        """The rows of every process."""
        return int(sum(self.layout))

    def read(self, chunks, order=None):
        """``(X, y)`` of ``chunks`` (``(group, first row in the group, rows)``, this process's), one after another,
        or their rows in the order ``order`` (positions in that concatenation): each chunk is read and put in its
        places at once, so that only the result and a chunk are held."""
        n = sum(rows for _, _, rows in chunks)
        X = np.empty((n, self.width), dtype=self.dtype)
        y = np.empty((n, self.cache.targets))
        places = None
        if order is not None:
            places = np.empty(n, dtype=np.int64)
            places[order] = np.arange(n)  # where each row of the concatenation goes
        at = 0
        for g, a, rows in chunks:
            Xc, yc = self.cache.read(self.cache.groups[g][0] + a, rows)
            to = slice(at, at + rows) if places is None else places[at : at + rows]
            X[to], y[to] = Xc, yc
            at += rows
        return X, y

    def blocks(self, rows=1 << 15):
        """``(X, y)`` of this process's rows, a block at a time."""
        return self.cache.blocks(rows)

    def targets(self, y):
        """What the model is fitted to from a block's ``y``: class indices (int64, one column) or values."""
        return y[:, 0].astype(np.int64) if self.task == "classification" else y


class StreamedTable(KindsOf):
    """A table read block by block for a model (see the module docstring); made by :func:`stream_table`."""

    def __init__(self, source, comm, seed, val_fraction):
        self.source, self.comm, self.seed, self.val_fraction = source, comm, seed, val_fraction
        if comm.size > 1:
            same_table(source, comm)
        self.kinds, self.targets, self.task, self.reason, self.classes = {}, [], None, "", None
        self.rows_with_target = self.left_out = self.train_rows = self.val_rows = 0
        self.train = self.val = None
        self._folder, self._owned = None, True
        self.types = None  # {column: "text" or "number"} read so from a CSV's first block on (a fitted model's)
        self._spill = None  # the first pass's groups, for the second (Spill)
        self._label_of = None  # {text: label}: a target read as text (see scan)

    # what the line of stages says about it, as a Dataset does (features, dropped: KindsOf)
    def lines(self, pre=None, verbose=False) -> list:
        columns = {c.name: c for c in pre.columns} if pre is not None else None
        out = kind_lines(self.kinds, columns, verbose, MAX_LEVELS)
        if self.left_out:
            out.append(f"rows left out: {self.left_out} with a missing target")
        return out

    def owned(self) -> list:
        """The groups this process reads: group ``g`` is process ``g mod size``'s."""
        return [g for g in range(len(self.source.group_rows)) if g % self.comm.size == self.comm.rank]

    def _groups(self, columns):
        """``(group, first row, table)`` of this process's groups; a :class:`Restart` when reading starts over."""
        groups = None if not self.source.group_rows else self.owned()
        for item in self.source.read(columns, groups, types=self.types):
            if item is Restart:
                yield item
                continue
            g, first, table = item
            if groups is None and g % self.comm.size != self.comm.rank:
                continue  # a CSV's blocks, before its layout is known: every process parses, each keeps its own
            yield g, first, table

    # -- the first pass ----------------------------------------------------------------------------------------
    def scan(self, target, task, overrides):
        """Count, fit kinds, task and classes (see the module docstring)."""
        source = self.source
        names = source.names
        targets = resolve_targets(names, source.path, target)
        self.targets = targets
        for option, chosen in overrides.items():
            for n in chosen:
                if n not in names:
                    raise DataError(
                        f"{source.path}: no column {n!r} (--{option}); the columns are "
                        f"{', '.join(repr(c) for c in names[:20])}"
                    )
                if n in targets:
                    raise DataError(f"{source.path}: column {n!r} is the target; --{option} names feature columns")
        features = [n for n in names if n not in targets and n not in overrides["drop"]]
        columns = [*features, *targets]
        # a target of labels is read as the file's text (a Parquet file's integers cast to it), typed once all its
        # labels are counted (labels_of_text): 007 stays 007, 9007199254740993 is not 9007199254740992
        self._label_of = None
        as_text = len(targets) == 1 and task != "regression" and _labels_as_text(source, targets[0])
        if as_text:
            self.types = {**(self.types or {}), targets[0]: "label"}
        self._spill = Spill(tempfile.gettempdir(), f"mlp-spill-{os.getpid()}")
        while True:
            self._spill.clear()
            summaries = {n: ColumnSummary() for n in columns}
            fits = {n: ColumnFit(labels_of_numbers=n in overrides["categorical"]) for n in features}
            # the target's labels (classes), and its values' moments over the training rows (regression)
            label_fit, moments, kept = (
                ColumnFit(labels_of_numbers=True, labels_only=True),
                [_Moments() for _ in targets],
                [0, 0, 0],
            )
            restarted = False
            for item in self._groups(columns):
                if item is Restart:
                    restarted = True
                    break
                g, first, table = item
                self._spill.write(g, first, table)
                rows = np.arange(first, first + table.n_rows, dtype=np.uint64)
                for n in columns:
                    summaries[n].add(table.column(n), first)
                has_target = np.ones(table.n_rows, dtype=bool)
                for t in targets:
                    has_target &= ~table.column(t).gaps()
                train = has_target & ~held_out(rows, self.val_fraction, self.seed)
                keys = row_hash(rows[train], self.seed ^ _SAMPLE_KEY)
                for n in features:
                    fits[n].add(table.column(n).take(train), keys)
                label_fit.add(
                    table.column(targets[0]).take(has_target), row_hash(rows[has_target], self.seed ^ _SAMPLE_KEY)
                )
                if task != "classification":  # regression (or not known yet): the targets' moments
                    for t, m in zip(targets, moments, strict=True):
                        values = as_numbers(table, t, role="target", lenient=task is None)[train]
                        m.add_values(values[~np.isnan(values)])
                kept[0] += int(has_target.sum())
                kept[1] += int(train.sum())
                kept[2] += table.n_rows
            if not restarted:
                break
        for counted in (*summaries.values(), *fits.values(), label_fit):
            counted.finish()  # distinct labels: CAP at most, chosen whatever the order (summary.Levels)
        # every process's counts, merged pairwise up a tree: the same on every process
        summaries, fits, label_fit, moments, kept, layout = self.comm.reduce_objects(
            (summaries, fits, label_fit, moments, kept, source.group_rows), _merge
        )
        source.group_rows = layout
        self.rows_with_target, self.train_rows = kept[0], kept[1]
        self.left_out, self.val_rows = kept[2] - kept[0], kept[0] - kept[1]
        if not self.rows_with_target:
            raise DataError(f"{source.path}, column {targets[0]!r}: every target value is missing")
        self.kinds = infer_kinds(source, features, summaries=summaries, **overrides)
        for n in overrides["drop"]:
            self.kinds[n] = asked("dropped")
        self.kinds = {n: self.kinds[n] for n in names if n in self.kinds}
        if not any(k.used for k in self.kinds.values()):
            raise DataError(
                f"{source.path}: no feature column left: "
                + "; ".join(f"{n!r} {k.said(n)}" for n, k in list(self.kinds.items())[:5])
            )
        if as_text:  # the labels typed as the whole column is, as a table read whole types them
            self._label_of = labels_of_text([v for v, _, _ in label_fit.labels.values() if isinstance(v, str)], task)
            label_fit.labels = _relabelled(label_fit.labels, self._label_of)
        self.task, self.reason = _task(targets, task, label_fit)
        if self.task == "regression" and not all(m.n for m in moments):
            raise DataError(
                f"{source.path}, column {targets[0]!r}: regression targets must be numbers (the column holds text)"
            )
        if self.task == "classification":
            if len(targets) > 1:
                raise DataError(f"{source.path}: classification takes one target column, got {', '.join(targets)}")
            if label_fit.capped:
                raise DataError(
                    f"{source.path}, column {targets[0]!r}: more than {len(label_fit.labels):,} "
                    "distinct labels, too many for the classes of a classifier (a target of numbers: "
                    "--task regression)"
                )
            labels = [label for label, _, _ in label_fit.labels.values()]
            if any(isinstance(v, float) and not math.isfinite(v) for v in labels):
                raise DataError(f"{source.path}, column {targets[0]!r}: a label that is not a finite number")
            self.classes = sorted(labels, key=sort_key)
            if len(self.classes) < 2:
                raise DataError(
                    f"{source.path}, column {targets[0]!r}: the target holds one class only "
                    f"({self.classes[0]!r}); a classifier needs at least two"
                )
        self._fits, self._moments = fits, moments
        if not self.train_rows:
            raise DataError(f"{source.path}: no training row left: every row with a target is a validation row")
        return self

    def preprocessor(self, standardize=True, scaling="robust", clip=CLIP, clamp=True) -> Preprocessor:
        """The :class:`Preprocessor` fitted on the counts of the first pass (the arguments: see
        :meth:`Preprocessor.fit`; robust statistics from each column's keyed sample)."""
        columns, means, scales = [], [], []
        for n in self.features:
            k = self.kinds[n]
            column, mean, scale = self._fits[n].encoder(
                n,
                k.kind,
                lenient=(k.kind == "numeric" and k.asked) or (k.kind == "datetime" and bool(k.note)),
                scaling=scaling,
            )
            columns.append(column)
            means += mean
            scales += scale
        pre = Preprocessor(self.features, list(self.targets), self.task, self.classes, columns=columns)
        for c, m, sc in zip(
            columns,
            np.split(np.array(means), np.cumsum([c.width for c in columns])[:-1]),
            np.split(np.array(scales), np.cumsum([c.width for c in columns])[:-1]),
            strict=True,
        ):
            if not (np.isfinite(m).all() and np.isfinite(sc).all()):
                raise DataError(
                    f"{self.source.path}, column {c.name!r}: numbers too large: the column's mean and "
                    "standard deviation overflow float64, so it cannot be standardised; rescale it"
                )
        if standardize:
            pre.mean, pre.scale = np.array(means), np.array(scales)
            pre.scaling = scaling
            pre.clip = float(clip) if scaling == "robust" and clip is not None else None
            if self.task == "regression":
                pre.target_mean = np.array([m.mean for m in self._moments])
                pre.target_scale = np.array(
                    [_scaled(m.mean, math.sqrt(m.m2 / m.n) if m.n else 0.0)[1] for m in self._moments]
                )
        if self.task == "regression" and clamp and all(m.n for m in self._moments):
            pre.target_low = np.array([m.low for m in self._moments])
            pre.target_high = np.array([m.high for m in self._moments])
        return pre

    # -- the second pass ---------------------------------------------------------------------------------------
    def encode(self, pre: Preprocessor, dtype="float32", folder=None):
        """Write this process's training and validation rows, encoded, to a cache on disk: two files each in a
        temporary folder under ``TMPDIR`` (or in ``folder``), opened once and, on POSIX systems, unlinked at once,
        so that the disk space goes back when :meth:`close` is called or the process ends, however it ends."""
        self._close_cache()
        self._owned = folder is None
        self._folder = folder or tempfile.mkdtemp(prefix="mlp-stream-")
        os.makedirs(self._folder, exist_ok=True)
        width, k = pre.n_inputs(), (1 if self.task == "classification" else len(self.targets))
        try:
            self.train = Cache(self._folder, f"train-{self.comm.rank}", width, dtype, k)
            self.val = Cache(self._folder, f"val-{self.comm.rank}", width, dtype, k)
            if self._owned and os.name == "posix":
                os.rmdir(self._folder)  # empty: its files are unlinked
                self._folder = None
            self._encode(pre, dtype)
        except OSError as e:
            where = self._folder or os.path.dirname(self.train.folder if self.train else tempfile.gettempdir())
            self.close()
            if e.errno != errno.ENOSPC:
                raise
            rows = self.rows_with_target or self.source.n_rows
            need = rows * (width * np.dtype(dtype).itemsize + 8 * k) / self.comm.size
            raise DataError(
                f"{self.source.path}: no space left on the disk of {where} for the encoded rows (about "
                f"{need / 2**30:,.1f} GiB for this process): set TMPDIR to a local disk with that much "
                "free"
            ) from None
        except BaseException:
            self.close()
            raise
        return self

    def _encode(self, pre, dtype):
        columns = [*pre.features, *self.targets]
        spill = self._spill if self._spill is not None and self._spill.whole else None
        for item in spill.tables(self.source.path) if spill is not None else self._groups(columns):
            if item is Restart:
                raise DataError(f"{self.source.path}: the file changed between the two passes over it")
            g, first, table = item
            rows = np.arange(first, first + table.n_rows, dtype=np.uint64)
            has_target = np.ones(table.n_rows, dtype=bool)
            for t in self.targets:
                has_target &= ~table.column(t).gaps()
            val = has_target & held_out(rows, self.val_fraction, self.seed)
            train = has_target & ~val
            X = pre.transform(
                table, dtype, rows=np.flatnonzero(has_target), row_numbers=np.arange(table.n_rows) + first
            )
            y = self._targets(pre, table, has_target, first)
            chosen = train[has_target]
            self.train.append(g, X[chosen], y[chosen])
            self.val.append(g, X[~chosen], y[~chosen])
        self._close_spill()

    def _close_spill(self):
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def _targets(self, pre, table, rows, first):
        if self.task == "classification":
            coded = as_levels(table, self.targets[0])
            if self._label_of is not None:  # the file's text as the labels it was typed as in the first pass
                of = self._label_of
                coded = as_levels(
                    None,
                    None,
                    column=Coded(coded.codes, [of.get(v, v) if isinstance(v, str) else v for v in coded.levels]),
                )
            return pre.class_indices(coded.take(rows), table.path, row_numbers=np.flatnonzero(rows) + first).astype(
                np.float64
            )
        columns = [as_numbers(table, t, role="target") for t in self.targets]
        for t, values in zip(self.targets, columns, strict=True):
            check_spread(table, t, values, role="target")  # the group's rows: a row named is the file's
        return pre.encode(np.stack(columns, axis=1)[rows])

    def chunk_layout(self, which="train") -> list:
        """The rows of every group of the training (or validation) cache, of every process, in group order."""
        mine = {g: rows for g, (_, rows) in getattr(self, which).groups.items()}
        layout = {}
        for part in self.comm.gather_objects(mine):
            layout.update(part)
        return [layout.get(g, 0) for g in range(len(self.source.group_rows))]

    def rows(self, which="train") -> StreamedRows:
        """The training (or validation) rows, for :func:`mlp.fit` (after :meth:`encode`)."""
        if which not in ("train", "val"):
            raise ValueError(f"rows of a streamed table: 'train' or 'val', not {which!r}")
        cache = getattr(self, which)
        if cache is None:
            raise ValueError(
                f"{self.source.path}: its rows are read after they are encoded: call encode(table.preprocessor()) first"
            )
        counts = None
        if self.task == "classification":
            mine = np.zeros(len(self.classes))
            for _, y in cache.blocks():
                mine += np.bincount(y[:, 0].astype(np.int64), minlength=len(self.classes))
            counts = self.comm.allreduce(mine) if self.comm.size > 1 else mine
        return StreamedRows(cache, self.chunk_layout(which), self.task, counts)

    def close(self):
        """Remove the cache (a folder given to :meth:`encode` stays, without the cache's files)."""
        self._close_spill()
        self._close_cache()

    def _close_cache(self):
        for cache in (self.train, self.val):
            if cache is not None:
                cache.close()
        if self._folder is not None:
            if self._owned:
                shutil.rmtree(self._folder, ignore_errors=True)
            else:
                for name in ("train", "val"):
                    for suffix in ("X", "y"):
                        path = os.path.join(self._folder, f"{name}-{self.comm.rank}.{suffix}")
                        if os.path.exists(path):
                            os.remove(path)
            self._folder = None
        self.train = self.val = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def same_table(source, comm):
    """Refuse, on every process alike, to train on tables that differ between the processes (hosts with different
    files under the same name): their columns, their groups' sizes, and their contents' fingerprints are compared."""
    prints = comm.gather_objects(source.fingerprint())
    for part, what in (("columns", "columns"), ("layout", "size or row groups"), ("content", "contents")):
        values = [p[part] for p in prints]
        if len(set(values)) > 1:
            odd = [r for r, v in enumerate(values) if v != values[0]]
            raise DataError(
                f"{source.path}: the processes read different tables: the {what} differ between rank 0 "
                f"and rank{'s' if len(odd) > 1 else ''} {', '.join(map(str, odd))}; every process must "
                "read the same table"
            )


def _merge(mine, theirs):
    """Two processes' counts of the first pass, as one (``mine`` of the lower ranks)."""
    summaries, fits, label_fit, moments, kept, layout = mine
    s2, f2, l2, m2, k2, lay2 = theirs
    for n, s in s2.items():
        summaries[n].merge(s)
    for n, f in f2.items():
        fits[n].merge(f)
    label_fit.merge(l2)
    for a, b in zip(moments, m2, strict=True):
        a.merge(b)
    kept = [a + b for a, b in zip(kept, k2, strict=True)]
    return summaries, fits, label_fit, moments, kept, layout or lay2


def _labels_as_text(source, name) -> bool:
    """Whether the target ``name`` is read as text and typed by :func:`labels_of_text`: a CSV file's (every column
    is text until typed), a Parquet file's integers (its text, floats and booleans are what they are)."""
    if isinstance(source, CsvSource):
        return True
    schema = getattr(source, "schema", None)
    if schema is None or name not in schema.names:
        return False
    import pyarrow as pa

    return pa.types.is_integer(schema.field(name).type)


def _relabelled(levels: Levels, label_of: dict) -> Levels:
    """``levels`` with each text label as ``label_of`` types it (two texts of one label merged: 1.50 and 1.5)."""
    out = Levels()
    for label, count, first in levels.values():
        new = label_of.get(label, label) if isinstance(label, str) else label
        out.add(label_key(new), new, count, first)
    out.capped = levels.capped
    return out.finish()


def _task(targets, task, label_fit):
    """``(task, why)`` from the target's distinct labels, as :func:`mlp.io.tables.target.infer_task` says."""
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        return task, "as asked"
    if len(targets) > 1:
        return (
            "regression",
            f"inferred: target {', '.join(targets)!r} - {len(targets)} target columns; --task to override",
        )
    labels = [label for label, _, _ in label_fit.labels.values()]
    if label_fit.capped:  # more distinct values than are kept: numbers of many values
        reason = f"it holds more than {len(labels):,} distinct values"
        kind = (
            "regression"
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels)
            else "classification"
        )
    elif labels and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels):
        kind, reason = task_of_target(np.unique(np.array(labels, dtype=np.float64)))
    else:
        kind, reason = "classification", f"it holds {len(labels)} distinct text/boolean labels"
    return kind, f"inferred: target {', '.join(targets)!r} - {reason}; --task to override"


def stream_table(
    data, target=None, task=None, categorical=None, numeric=None, drop=None, sep=None, val_split=0.2, seed=0, comm=None
) -> StreamedTable:
    """A table read block by block: the first pass over it done (kinds, task, classes counted); see
    :class:`StreamedTable` (``preprocessor()``, then ``encode(pre, dtype)``).

    Parameters as :func:`mlp.io.tables.load_table`, and ``val_split`` (the share of rows held out, chosen by a
    keyed hash of each row's number; 0: none), ``seed`` (the key), ``comm`` (the processes of a data-parallel
    job: each reads its share of the groups).
    """
    from mlp.backends.comm import get_communicator

    def names(v):
        if v is None:
            return []
        return [n.strip() for n in v.split(",") if n.strip()] if isinstance(v, str) else list(v)

    overrides = {"categorical": names(categorical), "numeric": names(numeric), "drop": names(drop)}
    both = set(overrides["categorical"]) & set(overrides["numeric"])
    if both:
        raise ValueError(f"column {sorted(both)[0]!r} is named both categorical and numeric")
    table = StreamedTable(open_source(data, sep), comm or get_communicator(False), seed, val_split or 0.0)
    return table.scan(target, task, overrides)


def stream_for(pre: Preprocessor, data, val_split=0.0, seed=0, comm=None, sep=None) -> StreamedTable:
    """A table streamed for a fitted preprocessor (``--resume`` of a streamed run): its kinds, task and classes are
    the preprocessor's; only the second pass is left to do (``encode(pre, dtype)``)."""
    from mlp.backends.comm import get_communicator

    table = StreamedTable(open_source(data, sep), comm or get_communicator(False), seed, val_split or 0.0)
    missing = [n for n in [*pre.features, *pre.targets] if n not in table.source.names]
    if missing:
        raise DataError(
            f"{table.source.path}: the model was trained with column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing[:10])}, missing here"
        )
    table.kinds = {c.name: ColumnKind(c.kind, "saved", "as the model was trained") for c in pre.columns}
    table.targets, table.task, table.classes, table.reason = list(pre.targets), pre.task, pre.classes, "as saved"
    table.types = read_types(pre)  # a CSV's columns as the first run read them in the end, from the first block on
    return table


def read_types(pre: Preprocessor, keep=()) -> dict:
    """``{column: "text", "number" or "keep"}``: how a fitted model's columns are read from a CSV from its first
    block on, so that no type guessed from one block has to change at a later one: the features by their kind, the
    targets by the task and the saved classes, columns kept for the output as the file's text (``"keep"``; a Parquet
    file's numbers as Arrow writes them, exactly).  A target of
    booleans or of mixed labels is left to the reader."""
    types = {c.name: "number" if c.kind == "numeric" and not c.lenient else "text" for c in pre.columns}
    if pre.task == "regression":
        types.update({t: "number" for t in pre.targets})
    elif pre.classes is not None and pre.targets:
        if all(
            isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, (bool, np.bool_))
            for c in pre.classes
        ):
            types[pre.targets[0]] = "number"
        elif all(isinstance(c, str) for c in pre.classes):
            types[pre.targets[0]] = "label"  # text; a Parquet file's integers as their exact text (labels past 2**53)
    for k in keep:  # as the file writes them, whatever the model reads the column as (a feature kept reads it too)
        types[k] = "keep"
    return types


def by_groups(data) -> bool:
    """Whether ``data`` is read a group at a time for a fitted model: a Parquet or CSV file, a folder or a glob of
    Parquet files, with pyarrow installed (anything else is read whole)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    if not isinstance(data, (str, os.PathLike)):
        return False
    text = os.fspath(data)
    from pathlib import Path

    return (
        Path(text).suffix.lower() in (".parquet", ".pq", ".csv", ".tsv")
        or Path(text).is_dir()
        or any(ch in text for ch in "*?[")
    )


def groups_for(pre: Preprocessor, data, dtype="float32", keep=(), need_target=False, sep=None):
    """A fitted model's inputs of a Parquet or CSV table read a group of rows at a time (``mlp predict``,
    ``mlp evaluate`` of a table of any size): ``(table, X, y)`` per group, ``table`` the group's columns (the
    features, ``keep``, and with ``need_target`` the targets), ``X`` the inputs of its rows (of those with a target,
    ``need_target``), ``y`` their targets as :meth:`Dataset.encoded_targets` gives them, or None."""
    source = open_source(data, sep)
    columns = [*pre.features, *keep, *(pre.targets if need_target else [])]
    missing = [f for f in pre.features if f not in source.names]
    if missing:
        raise DataError(
            f"{source.path}: the model was trained with feature column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing[:10])}{', ...' if len(missing) > 10 else ''}, missing "
            f"here (it has {len(source.names)} columns)"
        )
    if need_target and any(t not in source.names for t in pre.targets):
        raise DataError(
            f"{source.path}: no target column {', '.join(repr(t) for t in pre.targets)} to evaluate against"
        )
    for item in source.read(list(dict.fromkeys(columns)), types=read_types(pre, keep)):
        if item is Restart:  # only a target of booleans or of mixed labels is left to the reader's guess
            raise DataError(
                f"{source.path}: the target column's values change type within the file (booleans or "
                "numbers, then text); give its labels one type, or write the table as Parquet"
            )
        g, first, table = item
        kept = table  # the kept columns as the file's text (NA and empty too), for the output
        if keep:  # the model reads a kept column's gaps as gaps
            table = Table(
                table.path,
                list(table.names),
                [gaps_of_text(c) if n in keep else c for n, c in zip(table.names, table.columns, strict=True)],
                table.named,
                table.line_offset,
                table.lines,
                table.n_rows,
                table.offset,
            )
        rows = np.arange(table.n_rows)
        if need_target:
            keep_rows = np.ones(table.n_rows, dtype=bool)
            for t in pre.targets:
                keep_rows &= ~table.column(t).gaps()
            rows = np.flatnonzero(keep_rows)
        X = pre.transform(table, dtype, rows=rows, row_numbers=np.arange(table.n_rows) + first, check=True)
        y = None
        if need_target:
            if pre.task == "classification":
                y = pre.class_indices(
                    as_levels(table, pre.targets[0]).take(rows),
                    table.path,
                    row_numbers=rows + first,
                    where=lambda row, t=table: t.where(row - t.offset, pre.targets[0]),
                )
            else:
                y = pre.encode(np.stack([as_numbers(table, t, role="target") for t in pre.targets], axis=1)[rows])
        yield kept, X, y
