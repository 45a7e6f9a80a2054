"""The communicator (backends/comm/): one process, and real MPI jobs of 2 ranks.

The MPI tests start ``mpiexec -n 2 python tests/mpi_worker.py CASE`` as a subprocess,
read the JSON record each rank writes (``rank<r>.json`` in a temporary folder) and check
them here.  Every job runs under a
timeout and in its own process group, so a hang fails the test (and leaves no orphan
ranks) instead of blocking CI.  They are skipped, with the reason, where mpi4py or
``mpiexec`` is missing (``pip install mpi4py mpich``), unless ``MLP_REQUIRE_MPI=1`` (CI),
which makes that an error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlp.backends import comm as comm_module
from mlp.backends.comm import CommunicatorUnavailableError, SingleProcess, get_communicator

WORKER = Path(__file__).resolve().parents[1] / "mpi_worker.py"
#: seconds any job may take; a healthy one takes a few (a streamed 2-process job once took 52 s on a machine running
#: four other heavy processes, so this is a hang's limit, not a speed's)
JOB_TIMEOUT = 150
#: seconds within which a job with a failing rank must be over
FAULT_TIMEOUT = 30


def _mpiexec():
    # the mpiexec beside this interpreter belongs to the MPI that mpi4py loads (the mpich wheel in a venv);
    # another one on PATH may be a different MPI, whose ranks would each be a world of one
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def _mpi_missing():
    if importlib.util.find_spec("mpi4py") is None:
        return f"mpi4py is not installed ({comm_module.INSTALL_HINT})"
    if _mpiexec() is None:
        return f"no mpiexec beside {sys.executable} or on PATH ({comm_module.INSTALL_HINT})"
    return None


if os.environ.get("MLP_REQUIRE_MPI") == "1" and _mpi_missing():
    # CI sets this, so that a broken install cannot turn the MPI tests into skips
    raise RuntimeError(f"MLP_REQUIRE_MPI=1 but {_mpi_missing()}")

needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))


def job_timeout(n: int) -> float:
    """Seconds a job of ``n`` processes may take: :data:`JOB_TIMEOUT`, times how far they outnumber the cores
    (MPICH's ranks poll while they wait, so oversubscribed ranks take turns on the cores)."""
    return JOB_TIMEOUT * max(1, -(-n // (os.cpu_count() or 1)))


def run_command(cmd, timeout, env=None, cwd=None):
    """Run ``cmd`` in a process group of its own: ``(returncode, stdout, stderr)``.

    A command still running after ``timeout`` seconds has its whole group killed (mpiexec and every rank) and
    fails the test with what it printed; the group is killed after it ends too, so that a rank that outlived
    mpiexec (seen once under load after an abort) does not spin on and slow the tests after it.
    """
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(
            f"{' '.join(map(str, cmd))}: still running after {timeout} s (a hang)\n"
            f"stdout:\n{out[-4000:]}\nstderr:\n{err[-4000:]}"
        )
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return proc.returncode, out, err


def run_job(*args, n=2, timeout=None, results_dir=None):
    """Run the worker under ``mpiexec -n n`` (n=0: plain python); return (returncode, stdout, stderr, seconds)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if results_dir is not None:
        env["MLP_MPI_RESULTS"] = str(results_dir)
    cmd = [_mpiexec(), "-n", str(n), sys.executable, str(WORKER), *args] if n else [sys.executable, str(WORKER), *args]
    start = time.perf_counter()
    code, out, err = run_command(cmd, timeout or job_timeout(n), env=env)
    return code, out, err, time.perf_counter() - start


def results(folder):
    """``{rank: record}`` from the ``rank<r>.json`` files the worker's ranks wrote."""
    found = {}
    for path in Path(folder).glob("rank*.json"):
        rec = json.loads(path.read_text())
        found[rec["rank"]] = rec
    return found


def ok_job(folder, *args, n=2):
    rc, out, err, _ = run_job(*args, n=n, results_dir=folder)
    assert rc == 0, f"job {' '.join(args)} failed with status {rc}:\n{err}"
    got = results(folder)
    assert sorted(got) == list(range(n)), f"expected a record from each of {n} ranks, got {sorted(got)}:\n{out}\n{err}"
    sizes = {rec["size"] for rec in got.values()}
    assert sizes == {n}, f"ranks saw world sizes {sizes}, not {n}: mpiexec and mpi4py's MPI do not match"
    return got


# -- one process ---------------------------------------------------------------------------------
def test_single_process_is_the_identity():
    comm = get_communicator(False)
    assert isinstance(comm, SingleProcess)
    assert (comm.rank, comm.size, comm.is_root, comm.distributed) == (0, 1, True, False)
    buf = np.arange(5.0)
    assert comm.allreduce_sum(buf) is buf  # no copy
    assert np.array_equal(buf, np.arange(5.0))
    assert comm.broadcast(buf) is buf
    assert comm.allreduce(2.5) == 2.5 and comm.allreduce(3, op="max") == 3
    assert comm.any(True) is True and comm.any(False) is False
    comm.barrier()


def test_single_process_checks_its_arguments():
    comm = get_communicator(False)
    with pytest.raises(ValueError, match="unknown reduction 'mean'"):
        comm.allreduce(1.0, op="mean")
    with pytest.raises(ValueError, match="root 1 out of range"):
        comm.broadcast(np.zeros(2), root=1)


def test_single_process_abort_exits_with_the_code(capsys):
    with pytest.raises(SystemExit) as e:
        get_communicator(False).abort("stopping here", 4)
    assert e.value.code == 4
    assert "mlp: stopping here" in capsys.readouterr().err


def test_each_process_of_a_machine_takes_its_own_gpu(monkeypatch):
    from mlp.backends import device_for_rank

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert device_for_rank("torch", "cuda", 1) == "cuda:1" and device_for_rank("jax", "gpu", 2) == "gpu:2"
    assert device_for_rank("cupy", None, 3) == "3"  # CuPy's default device is a GPU
    # what MLP_DEVICE names exactly stays: a numbered GPU, a CPU; NumPy has no device to choose
    assert device_for_rank("torch", "cuda:0", 1) == "cuda:0" and device_for_rank("torch", "cpu", 1) == "cpu"
    assert device_for_rank("cupy", "0", 1) == "0" and device_for_rank("numpy", None, 1) is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")  # the launcher gave this process one GPU: it is device 0
    assert device_for_rank("torch", "cuda", 3) == "cuda:0" and device_for_rank("cupy", None, 3) == "0"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    assert device_for_rank("torch", "cuda", 1) == "cuda:1"


class _TwoProcesses:
    """What ``same_settings`` asks of a communicator, with the other process's settings made up."""

    size, rank = 2, 0

    def __init__(self, other):
        self.other = other

    def gather_objects(self, mine):
        return [mine, json.dumps(self.other, sort_keys=True)]


def test_processes_given_different_settings_are_refused_naming_each():
    from mlp.cli.distributed import same_settings

    mine = {"lr": 0.01, "batch_size": 32, "hidden": [100, 10], "seed": 0}
    same_settings(_TwoProcesses(dict(mine)), mine)  # the same: no word
    same_settings(SingleProcess(), mine)
    with pytest.raises(ValueError) as e:
        same_settings(_TwoProcesses({**mine, "lr": 0.1, "hidden": [100, 20]}), mine)
    text = str(e.value)
    assert "lr (rank 0: 0.01 / rank 1: 0.1)" in text and "hidden (rank 0: [100, 10] / rank 1: [100, 20])" in text
    assert "batch_size" not in text and "seed" not in text


def test_distributed_without_mpi4py_says_how_to_install(monkeypatch):
    monkeypatch.setattr(comm_module, "_world", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    with pytest.raises(CommunicatorUnavailableError, match=r"pip install mpi4py mpich"):
        get_communicator(True)
    described = comm_module.info()
    assert described["available"] is False and "pip install mpi4py mpich" in described["reason"]


# -- two processes: results -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def collectives(tmp_path_factory):
    """One 2-rank job running every correctness case (one mpiexec start instead of four)."""
    if _mpi_missing():
        pytest.skip(_mpi_missing())
    return ok_job(tmp_path_factory.mktemp("collectives"), "collectives")


@needs_mpi
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_allreduce_sum_adds_the_ranks_buffers_in_place(collectives, dtype):
    expected = (np.arange(1000) + 1) * (1 + 2)  # rank r holds (arange + 1) * (r + 1)
    for rank, rec in collectives.items():
        got = rec["allreduce"][dtype]
        assert got["dtype"] == dtype
        assert got["values"] == expected[:5].tolist() and got["last"] == expected[-1], f"rank {rank}"
        assert got["in_place"], f"rank {rank}: a writable contiguous NumPy buffer should be summed in place"


@needs_mpi
def test_allreduce_sum_of_strided_and_readonly_buffers_leaves_the_input(collectives):
    for rank, rec in collectives.items():
        for kind, n in (("strided", 10), ("readonly", 4)):
            got = rec["allreduce"][kind]
            assert got["values"] == [3.0] * n, f"rank {rank} {kind}"
            assert got["input_after"] == [rank + 1.0] * n, f"rank {rank}: the {kind} input was changed"


@needs_mpi
def test_small_allreduce_and_collective_flags(collectives):
    for rank, rec in collectives.items():
        got = rec["scalars"]
        assert (got["sum"], got["max"], got["min"]) == (3, 1.0, 0.0), f"rank {rank}"
        assert got["vector"] == [2.0, 1.0, 10.0]
        # one rank raising the flag is every rank's answer; a sum of flags counts them
        assert got["flag_one"] is True and got["flag_none"] is False
        assert got["bool_sum"] == 2


@needs_mpi
def test_broadcast_sends_the_roots_array(collectives):
    root = 1  # the worker broadcasts from the last rank, so that root != 0 is exercised
    expected = (np.arange(12, dtype=np.float32).reshape(3, 4) * (root + 1)).tolist()
    for rank, rec in collectives.items():
        got = rec["broadcast"]
        assert got["values"] == expected and got["dtype"] == "float32", f"rank {rank}"
        assert got["filled"] == expected and got["filled_in_place"], f"rank {rank}"


@needs_mpi
def test_broadcast_with_mismatched_shapes_is_refused_by_every_rank(collectives):
    for rank, rec in collectives.items():
        refused = rec["broadcast"]["refused"]
        assert refused is not None and "(3, 4)" in refused, f"rank {rank} did not refuse: {refused!r}"


@needs_mpi
def test_info_names_the_library_and_the_world(collectives):
    for rank, rec in collectives.items():
        got = rec["info"]
        assert got["available"] is True and got["world_size"] == 2 and got["rank"] == rank
        assert got["library"] and got["mpi4py"]
        assert got["local_rank"] == rank  # both ranks on this one machine


@needs_mpi
def test_device_arrays_are_staged_through_the_host(tmp_path):
    # array-api-strict stands for every non-NumPy backend (torch, CuPy without NCCL): the same staging
    # code path, without the seconds that importing torch in two more processes would cost
    if importlib.util.find_spec("array_api_strict") is None:
        pytest.skip("array-api-strict is not installed (pip install array-api-strict)")
    usable = ["array_api_strict"]
    got = ok_job(tmp_path, "backend", *usable)
    for rank, rec in got.items():
        for name in usable:
            r = rec["backend"][name]
            assert r["owns"], f"rank {rank}: the sum of {name} arrays is not a {name} array"
            assert r["values"] == (np.arange(6) * 3.0).tolist(), f"rank {rank} {name}"
            assert r["input_after"] == (np.arange(6) * (rank + 1.0)).tolist(), f"rank {rank}: {name} input changed"


@needs_mpi
def test_objects_are_merged_up_a_tree_in_rank_order_on_every_rank(tmp_path):
    got = ok_job(tmp_path, "reduce", n=3)  # an odd number: a rank without a partner at the first step
    assert all(rec["merged"] == [0, 1, 2] for rec in got.values())
    assert SingleProcess().reduce_objects([0], lambda a, b: a + b) == [0]


@needs_mpi
def test_cuda_arrays_are_summed_by_nccl_in_place_without_a_host_copy(tmp_path):
    got = ok_job(tmp_path, "nccl")
    for rank, rec in got.items():
        for dtype in ("float32", "float64"):
            assert rec["sums"][dtype] == {"same": True, "values": [0.0, 3.0, 6.0, 9.0, 12.0]}  # 1x + 2x, in place
        assert rec["uids"] == ["id-of-rank-0"]  # one communicator, on rank 0's id
        assert set(rec["devices"]) == {3 + rank}  # on this rank's device
        assert rec["streams"] == [1000 + rank] * 2 and rec["types"] == ["f32", "f64"]


@needs_mpi
def test_distributed_outside_mpiexec_is_a_world_of_one(tmp_path):
    rc, out, err, _ = run_job("single", n=0, results_dir=tmp_path)
    assert rc == 0, err
    rec = results(tmp_path)[0]
    assert rec["mpi"] and rec["size"] == 1 and rec["same"] and rec["values"] == [0.0, 1.0, 2.0] and rec["any"]


# -- two processes: a failing rank ends the job ----------------------------------------------------
@needs_mpi
@pytest.mark.parametrize(
    "case, code, message",
    [
        ("raise", None, "boom from rank 1"),  # an uncaught exception: the abort hook
        ("caught", None, "ValueError: bad value on rank 1"),  # an error inside fatal_errors (as a CLI catches it)
        ("exit", 3, "exited with status 3"),  # sys.exit(3) inside fatal_errors
        ("abort", 5, "giving up on purpose"),  # comm.abort(message, 5)
        ("kill", None, None),  # SIGKILL: mpiexec ends the other rank
    ],
)
def test_a_failing_rank_ends_the_job(case, code, message):
    rc, out, err, seconds = run_job(case, timeout=FAULT_TIMEOUT)
    assert rc != 0, f"{case}: the job ended with status 0"
    if code is not None:
        assert rc == code
    assert "passed the allreduce" not in out  # rank 0 never got past the collective rank 1 left
    if message is not None:
        assert message in err
    assert seconds < FAULT_TIMEOUT


# -- two processes: data-parallel training ---------------------------------------------------------
@pytest.fixture(scope="module")
def parity_runs(tmp_path_factory):
    """Every PARITY setting trained by a 2-rank job (one mpiexec start)."""
    if _mpi_missing():
        pytest.skip(_mpi_missing())
    return ok_job(tmp_path_factory.mktemp("fit"), "fit")


def _one_process(optimizer, dtype, n, batch, epochs, dropout):
    from mpi_worker import parity_fit, parity_setup

    weighted = dropout == "weighted"
    model, opt, X, y = parity_setup(optimizer, dtype, n, 0.0 if weighted else dropout)
    history = parity_fit(model, opt, X, y, batch, epochs, weighted=weighted)
    return model, opt, history


@needs_mpi
@pytest.mark.parametrize(
    "setting",
    __import__("mpi_worker").PARITY,
    ids=lambda p: (
        f"{p[0]}-{p[1]}-batch{p[3]}" + (f"-{p[5]}" if p[5] == "weighted" else f"-dropout{p[5]}" if p[5] else "")
    ),
)
def test_two_processes_train_as_one_with_the_same_global_batch(parity_runs, setting):
    from mpi_worker import parity_key

    optimizer, dtype, n, batch, epochs, dropout = setting
    model, opt, history = _one_process(*setting)
    rtol = {"float64": 1e-10, "float32": 1e-4}[dtype]
    ranks = [parity_runs[r]["runs"][parity_key(optimizer, dtype, dropout)] for r in (0, 1)]
    for key, value in model.state_dict().items():
        ref = np.asarray(value, dtype=np.float64).ravel()
        for rank, run in enumerate(ranks):
            got = np.array(run["params"][key])
            np.testing.assert_allclose(
                got,
                ref,
                rtol=rtol,
                atol=rtol * np.abs(ref).max() * 1e-2,
                err_msg=f"rank {rank}, {key}, {optimizer} {dtype}",
            )
        # the ranks apply the same update to the same allreduced gradient: bit-identical weights
        assert ranks[0]["params"][key] == ranks[1]["params"][key], f"the ranks' {key} differ"
    assert ranks[0]["t"] == opt.t == epochs * -(-n // batch)
    for k, ref in history.history.items():
        if k != "seconds":  # metrics measured on shards and reduced = metrics on the whole set
            np.testing.assert_allclose(ranks[1]["history"][k], ref, rtol=1e-5, err_msg=k)


@needs_mpi
@pytest.mark.parametrize("row", [17])  # row 17: in rank 1's shard of step 2 (rows 15..19), not rank 0's
def test_a_nan_on_one_rank_stops_every_rank_at_the_same_step(tmp_path, row):
    got = ok_job(tmp_path, "diverge", str(row))
    messages = {rec["message"] for rec in got.values()}
    assert len(messages) == 1 and None not in messages, messages
    assert "step 2 of 11" in messages.pop()
    assert all(rec["finite"] for rec in got.values())  # rolled back to the weights before that step
    assert got[0]["params"] == got[1]["params"]


def _cli(*args, n=2):
    return [_mpiexec(), "-n", str(n), sys.executable, "-m", "mlp", "train", "--distributed", *args]


@needs_mpi
def test_cli_distributed_training_prints_once_and_saves(tmp_path):
    save = tmp_path / "xor.safetensors"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    code, out, err = run_command(
        _cli("--data", "xor", "--epochs", "2", "--quiet", "--save", str(save)), JOB_TIMEOUT, env=env
    )
    assert code == 0, err
    assert out.count("checkpoint saved to") == 1, out  # rank 0 alone reports
    import mlp

    assert mlp.load_checkpoint(save).metadata["extra"]["epoch"] == 2


@needs_mpi
def test_resume_from_a_named_pipe_reads_it_once_on_rank_0(tmp_path):
    """Rank 0 reads the checkpoint once (a pipe cannot be read twice) and hands its bytes to the other ranks."""
    import threading

    save = tmp_path / "xor.safetensors"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    code, _, err = run_command(
        _cli("--data", "xor", "--epochs", "2", "--quiet", "--save", str(save)), JOB_TIMEOUT, env=env
    )
    assert code == 0, err
    pipe = tmp_path / "ck.fifo"
    os.mkfifo(pipe)
    writer = threading.Thread(target=lambda: pipe.write_bytes(save.read_bytes()), daemon=True)
    writer.start()
    out_path = tmp_path / "more.safetensors"
    code, out, err = run_command(
        _cli("--resume", str(pipe), "--epochs", "1", "--quiet", "--save", str(out_path)), JOB_TIMEOUT, env=env
    )
    writer.join(timeout=5)
    assert code == 0, err
    assert "after 3 epochs" in out
    import mlp

    assert mlp.load_checkpoint(out_path).metadata["extra"]["epoch"] == 3


@needs_mpi
@pytest.mark.parametrize(
    "signum, status, line",
    [
        (signal.SIGINT, 130, "mlp: interrupted at epoch"),  # Ctrl-C in a terminal: mpiexec forwards it to every rank
        (signal.SIGTERM, 143, "mlp: interrupted by SIGTERM at epoch"),  # what a scheduler sends the job before a kill
    ],
)
def test_a_stop_signal_under_mpiexec_stops_all_ranks_with_a_checkpoint(tmp_path, signum, status, line):
    save = tmp_path / "spirals.safetensors"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen(
        _cli("--data", "spirals", "--epochs", "100000", "--quiet", "--save", str(save)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + JOB_TIMEOUT
        while not save.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the first epoch's checkpoint: training is under way
        assert save.exists(), f"no checkpoint appeared (status {proc.poll()})"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=FAULT_TIMEOUT)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == status, err
    assert err.count(line) == 1, err  # one report, from rank 0
    import mlp

    extra = mlp.load_checkpoint(save).metadata["extra"]
    assert extra["epoch"] >= 1 and "step" in extra


@needs_mpi
def test_ranks_with_different_data_refuse_to_start_together(tmp_path):
    got = ok_job(tmp_path, "disagree")
    for rank, rec in got.items():
        assert rec["message"] is not None and "disagree on samples (from 100 to 101)" in rec["message"], rec["message"]


@pytest.mark.parametrize("i, j, size", [(0, 10, 2), (10, 11, 2), (0, 7, 3), (20, 23, 4), (0, 256, 8)])
def test_shards_partition_the_batch_evenly(i, j, size):
    from mlp.train.distributed import shard_bounds

    bounds = [shard_bounds(i, j, r, size) for r in range(size)]
    assert bounds[0][0] == i and bounds[-1][1] == j
    assert all(bounds[r][1] == bounds[r + 1][0] for r in range(size - 1))  # contiguous, no overlap, no gap
    sizes = [b - a for a, b in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_one_process_communicator_changes_nothing_in_fit():
    from mpi_worker import parity_fit, parity_setup

    runs = []
    for comm in (None, get_communicator(False)):
        model, opt, X, y = parity_setup("sgd", "float64", 101)
        parity_fit(model, opt, X, y, 10, 1, comm)
        runs.append(model.state_dict())
    for key in runs[0]:
        assert np.array_equal(runs[0][key], runs[1][key]), key


def test_cli_distributed_without_mpi4py_is_one_line_with_the_install_command(monkeypatch, capsys):
    from mlp import cli

    monkeypatch.setattr(comm_module, "_world", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    code = cli.main(["train", "--distributed", "--data", "xor", "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "pip install mpi4py mpich" in err, err
