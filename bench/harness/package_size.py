"""Item 4: deployment package sizes, the Rust arm64 zip vs the Python reference's.

The Rust zip is `scripts/package`'s output. The Python package is built here the way one builds
a Lambda zip for arm64: `handler.py` plus its dependencies as manylinux aarch64 wheels for the
Lambda Python runtime, unpacked and zipped. Two variants: numpy only (boto3 comes with the
runtime) and numpy + a pinned boto3 (AWS's advice for reproducible SDK versions).

    python -m harness.package_size --out RESULTS.json --rust-zip PATH
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .functions import REFERENCE_DIR
from .machine import describe

LAMBDA_PYTHON = "3.12"
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")


def _boto3_pin() -> str:
    import boto3

    return f"boto3=={boto3.__version__}"


def _requirements() -> list[str]:
    lines = (REFERENCE_DIR / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def build_python_zip(requirements: list[str], out: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="sagefront-pyzip-") as tmp:
        wheels, site = Path(tmp, "wheels"), Path(tmp, "package")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--only-binary=:all:", "--implementation", "cp", "--python-version", LAMBDA_PYTHON,
               "--dest", str(wheels)]
        for p in PLATFORMS:
            cmd += ["--platform", p]
        subprocess.run(cmd + requirements, check=True, timeout=600)
        site.mkdir()
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as z:
                z.extractall(site)
        shutil.copy(REFERENCE_DIR / "handler.py", site / "handler.py")
        unzipped = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for f in sorted(site.rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(site))
        return {
            "zip_bytes": out.stat().st_size,
            "unzipped_bytes": unzipped,
            "wheels": sorted(w.name for w in wheels.glob("*.whl")),
        }


def zip_info(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        unzipped = sum(i.file_size for i in z.infolist())
    return {"zip_bytes": path.stat().st_size, "unzipped_bytes": unzipped}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rust-zip", type=Path, required=True)
    args = ap.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="sagefront-pkg-"))
    reqs = _requirements()
    result = {
        "machine": describe(),
        "rust": zip_info(args.rust_zip),
        "python": build_python_zip(reqs, workdir / "python-numpy.zip"),
        "python_with_boto3": build_python_zip(reqs + [_boto3_pin()], workdir / "python-numpy-boto3.zip"),
        "lambda_python": LAMBDA_PYTHON,
        "requirements": reqs,
    }
    for name in ("rust", "python", "python_with_boto3"):
        print(f"[package_size] {name:18} {result[name]['zip_bytes']:>12,} bytes zipped", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
