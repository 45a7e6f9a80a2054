"""`python -m tools.gpu.pack [DIR]`: build what travels beside the working tree to an offline GPU machine for the
GPU proof (`python -m tools.gpu`).

DIR (default: .whl in the repository, which git ignores) receives::

    wheels/    this project's wheel (built from the working tree) and the pure-Python wheels such a machine
               lacks: array-api-compat, array-api-strict, threadpoolctl (at the versions installed here, when
               they are); with --plot also matplotlib and its compiled dependencies for --python/--platform
    data/      mnist/ (the four IDX .gz files); with --fashion also fashion-mnist/
    manifest.json   what is in it, its size, and the commit of the tree it was built from

MNIST comes from --data-dir, else $MLP_DATA_DIR, else ../shared/data (the tests' default): a data root holding
mnist/, or the folder holding the four files.  Nothing is downloaded but the wheels (pip download, from the
package index pip is configured with).  The size is printed; more than 64 MiB is an error (the limit on what a
GPU call carries).  Then: `python -m tools.gpu --pack DIR --out OUT` (see `python -m tools.gpu --help`).
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .plan import MNIST_FILES, ROOT
from .wheel import build_project_wheel, compare_wheel_to_tree, say

LIMIT_MIB = 64
#: pure-Python distributions a machine with only the GPU stack lacks (array-api-compat: mlp's own dependency;
#: array-api-strict: a test dependency and a backend; threadpoolctl: `--threads`)
DEPS = ["array-api-compat", "array-api-strict", "threadpoolctl"]
#: matplotlib for the tests that plot (`mlp train --plot`), without NumPy, which every such machine has
PLOT = ["matplotlib", "contourpy", "cycler", "fonttools", "kiwisolver", "pillow", "pyparsing"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
#: first bytes of each IDX file once decompressed: images 0x00000803, labels 0x00000801
IDX_MAGIC = {"images": b"\x00\x00\x08\x03", "labels": b"\x00\x00\x08\x01"}


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _installed_version(name):
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def download_wheels(names, dest, python_version, platforms, log=say):
    """``pip download`` one wheel each (no dependencies), pinned to the version installed here where there is one."""
    specs = [f"{n}=={v}" if (v := _installed_version(n)) else n for n in names]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"]
    cmd += ["-q", "--python-version", python_version, "--implementation", "cp", "-d", str(dest)]
    for p in platforms:
        cmd += ["--platform", p]
    log("pip download " + " ".join(specs))
    r = subprocess.run(cmd + specs, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        tail = " | ".join([line for line in (r.stdout + r.stderr).splitlines() if "WARNING" not in line][-4:])
        raise RuntimeError(f"pip download failed (exit {r.returncode}): {tail}")
    norm = {n.replace("-", "_").lower() for n in names}
    got = {w.name.split("-")[0].lower() for w in Path(dest).glob("*.whl")}
    missing = sorted(norm - got)
    if missing:
        raise RuntimeError(f"pip download gave no wheel for {', '.join(missing)}")


def find_data(dataset, data_dir=None):
    """The folder holding ``dataset``'s four files: in ``data_dir``/$MLP_DATA_DIR/../shared/data, as root or folder."""
    roots = [data_dir] if data_dir else [os.environ.get("MLP_DATA_DIR"), str(ROOT.parent / "shared" / "data")]
    for r in roots:
        if not r:
            continue
        r = Path(r).expanduser()
        for folder in (r / dataset, r):
            if all((folder / f).is_file() for f in MNIST_FILES):
                return folder
        if data_dir:
            break
    where = data_dir or "$MLP_DATA_DIR or ../shared/data"
    raise RuntimeError(
        f"no {dataset} files ({', '.join(MNIST_FILES)}) in {where} (nor in its {dataset}/): "
        "give --data-dir, a folder holding mnist/ or the four files"
    )


def check_idx(path):
    """The file is gzip and decompresses to an IDX file of the kind its name says."""
    kind = "images" if "images" in path.name else "labels"
    try:
        with gzip.open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise RuntimeError(f"{path}: not a gzip file ({e})") from None
    if head != IDX_MAGIC[kind]:
        raise RuntimeError(f"{path}: not an IDX {kind} file (magic {head.hex()})")


def _git(*args):
    try:
        r = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def prepare_dir(pack):
    """Empty the parts of ``pack`` this script writes; refuse a non-empty folder that is not a pack."""
    if pack.exists():
        if not pack.is_dir():
            raise RuntimeError(f"{pack} is a file, not a folder")
        entries = {p.name for p in pack.iterdir()}
        if entries and "manifest.json" not in entries and not entries <= {"wheels", "data"}:
            raise RuntimeError(
                f"{pack} is not empty and holds no manifest.json: not a pack of this script; name a new or empty folder"
            )
    for sub in ("wheels", "data"):
        shutil.rmtree(pack / sub, ignore_errors=True)
    (pack / "manifest.json").unlink(missing_ok=True)
    (pack / "wheels").mkdir(parents=True)


def copy_data(pack, args):
    """MNIST (and with --fashion Fashion-MNIST) into ``pack``/data, each file checked; the files copied."""
    data = []
    for dataset in ["mnist"] + (["fashion-mnist"] if args.fashion else []):
        src = find_data(dataset, args.data_dir)
        say(f"== {dataset} from {src}")
        target = pack / "data" / dataset
        target.mkdir(parents=True)
        for f in MNIST_FILES:
            shutil.copyfile(src / f, target / f)
            check_idx(target / f)
            data.append(target / f)
    return data


def manifest(pack, files, own, problems, args):
    """manifest.json's record: what the pack holds, for which machine, from which tree."""
    return {
        "format": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tree": {"commit": _git("rev-parse", "HEAD"), "dirty": bool(_git("status", "--porcelain"))},
        "target": {"python": args.python, "platforms": args.platform or PLATFORMS},
        "project_wheel": own.name,
        "project_wheel_vs_tree": problems,
        "extras": {"plot": args.plot, "fashion": args.fashion},
        "files": [
            {"path": f.relative_to(pack).as_posix(), "bytes": f.stat().st_size, "sha256": _sha256(f)} for f in files
        ],
        "total_bytes": sum(f.stat().st_size for f in files),
    }


def build(pack, args):
    """The pack in ``pack``: this project's wheel, the others, the data, manifest.json; its files."""
    prepare_dir(pack)
    wheels = pack / "wheels"
    say(f"== building this project's wheel from {ROOT}")
    own = build_project_wheel(wheels)
    problems = compare_wheel_to_tree(own)
    for line in problems:
        say(f"WARNING: {own.name}: {line}")
    say(f"== wheels for Python {args.python} ({', '.join(args.platform or PLATFORMS)})")
    download_wheels(DEPS + (PLOT if args.plot else []), wheels, args.python, args.platform or PLATFORMS)
    data = copy_data(pack, args)
    files = sorted(wheels.glob("*.whl")) + data
    (pack / "manifest.json").write_text(json.dumps(manifest(pack, files, own, problems, args), indent=1) + "\n")
    return files


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m tools.gpu.pack",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dir", nargs="?", default=str(ROOT / ".whl"), help="the pack's folder (default: .whl)")
    p.add_argument(
        "--data-dir", help="data root holding mnist/ (or the four files); default $MLP_DATA_DIR, else ../shared/data"
    )
    p.add_argument("--plot", action="store_true", help="also carry matplotlib and its dependencies (about +24 MiB)")
    p.add_argument("--fashion", action="store_true", help="also carry Fashion-MNIST (+30 MiB; two data tests use it)")
    p.add_argument("--python", default="3.12", help="the GPU machine's Python, for compiled wheels (default 3.12)")
    p.add_argument(
        "--platform",
        action="append",
        default=None,
        help=f"wheel platform tags, repeatable (default: {', '.join(PLATFORMS)})",
    )
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    pack = Path(args.dir).absolute()
    try:
        files = build(pack, args)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"gpu-pack: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    width = max(len(f.relative_to(pack).as_posix()) for f in files)
    for f in files:
        say(f"  {f.relative_to(pack).as_posix():{width}s} {f.stat().st_size / 2**20:8.2f} MiB")
    mib = sum(f.stat().st_size for f in files) / 2**20
    say(f"pack {pack}: {len(files)} files, {mib:.1f} MiB (limit {LIMIT_MIB} MiB)")
    if mib > LIMIT_MIB:
        print(f"gpu-pack: error: {mib:.1f} MiB is over the {LIMIT_MIB} MiB a GPU call can carry", file=sys.stderr)
        return 1
    rel = os.path.relpath(pack, ROOT) if pack.is_relative_to(ROOT) else str(pack)
    say(f'next: carry {rel} and run: python -m tools.gpu --pack {rel} --out "$OUT"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
