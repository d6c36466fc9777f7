"""The shell commands of README.md and docs/, run verbatim against the local stack with a real
photo of a few hundred kB, and each answer checked.

A block runs when the line before its fence is `<!-- test: ANSWER... -->`; the marker names the
answers the block prints, in order (the table in docs/development.md, "Tests of the docs").
Only documented variables are substituted: `API_URL` (set in the environment, and a line that
assigns the local default URL gets the stack's), and the photo `photo.jpg` (the test photo's
path). Each block runs with `bash -eo pipefail` from the repository root, as the docs say; a
curl configuration file (CURL_HOME) appends each answer's status to its body, so the commands
stay exactly as written.
"""

import base64
import io
import json
import os
import re
import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT, sklearn_image

sys.path.insert(0, str(ROOT / "tests" / "contract"))
import docs_markdown as md  # noqa: E402

LOCAL_URL = "http://127.0.0.1:9000/lambda-url/sagefront-function"
STATUS = re.compile(rb"\nHTTP_STATUS (\d{3})\n")
# What the model sees in the test photo (scikit-learn's china.jpg, a Chinese palace).
TOP_LABEL = "palace"
RUNNABLE = [b for page in md.documentation() for b in md.shell_blocks(page) if b.runnable]


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """china.jpg at twice its size, re-encoded at quality 95: a JPEG of about 380 kB, whose
    base64 (about 510 kB) is far over the 128 KiB a single command-line argument may hold."""
    img = Image.open(io.BytesIO(sklearn_image("china.jpg")))
    big = img.resize((img.width * 2, img.height * 2), Image.LANCZOS)
    path = tmp_path_factory.mktemp("photo") / "photo.jpg"
    big.save(path, "JPEG", quality=95)
    assert 300_000 <= path.stat().st_size <= 600_000, path.stat().st_size
    return path


def test_the_test_photo_breaks_a_command_that_puts_its_base64_in_an_argument(photo):
    """The old README's command, to prove the photo is large enough to catch it."""
    old = f'curl -s http://127.0.0.1:1/ -d "{{\\"image\\": \\"$(base64 -w0 {photo})\\"}}"'
    proc = subprocess.run(["bash", "-c", old], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Argument list too long" in proc.stderr, proc.stderr


def test_the_docs_have_a_runnable_example_of_every_request_form():
    kinds = [a.split(":")[0] for b in RUNNABLE for a in b.answers]
    assert set(kinds) == set(CHECKS), f"answers used: {sorted(set(kinds))}, checkers: {sorted(CHECKS)}"
    for form in ('"image": "', '"data": "', '/resize', "Content-Type: image/jpeg", "scripts/predict"):
        assert any(form in b.code for b in RUNNABLE), f"no runnable block sends {form}"


def split_answers(stdout: bytes) -> list[tuple[int | None, bytes]]:
    """Each curl answer (status, body), then what follows the last one (a script's output)."""
    parts = STATUS.split(stdout)
    answers = [(int(status), body) for body, status in zip(parts[0:-1:2], parts[1::2])]
    if parts[-1].strip():
        answers.append((None, parts[-1]))
    return answers


def check_health(status, body, arg, contract):
    assert status == 200, body
    assert json.loads(body) == {"status": "ok"}


def check_predictions(status, body, arg, contract):
    assert status == 200, body
    answer = json.loads(body)
    contract.validate(answer, "PredictionResponse")
    assert len(answer["predictions"]) == int(arg) and answer["classes"] == 1000, answer
    assert answer["predictions"][0]["label"] == TOP_LABEL, answer


def fits(size, box: str) -> bool:
    """`WxH`: inside the box and touching it; `Wx`: width W; `xH`: height H."""
    want_w, want_h = (int(v) if v else None for v in box.split("x"))
    w, h = size
    if want_w and want_h:
        return w <= want_w and h <= want_h and (w == want_w or h == want_h)
    return (want_w is None or w == want_w) and (want_h is None or h == want_h)


def check_resize(status, body, arg, contract):
    assert status == 200, body[:300]
    answer = json.loads(body)
    contract.validate(answer, "ResizeResponse")
    img = Image.open(io.BytesIO(base64.b64decode(answer["image"])))
    assert img.size == (answer["width"], answer["height"]) and img.format.lower() == answer["format"]
    assert fits(img.size, arg), (img.size, arg)


def check_image(status, body, arg, contract):
    name, size = arg.split(",")
    assert status == 200, body[:300]
    img = Image.open(ROOT / name)
    assert img.format.lower() == name.rsplit(".", 1)[1] and "x".join(map(str, img.size)) == size


def check_table(status, body, arg, contract):
    assert status is None, "expected a script's output, not a curl answer"
    lines = body.decode().strip().splitlines()
    assert lines[0].split() == ["rank", "index", "probability", "label"], lines
    assert len(lines) == int(arg) + 2 and lines[-1] == f"({arg} of 1000 classes)", lines
    assert lines[1].split()[0] == "1" and lines[1].endswith(TOP_LABEL), lines


def check_invocations(status, body, arg, contract):
    """The model's own answer, unchanged: the local classifier's 1000 probabilities."""
    assert status == 200, body[:300]
    scores = json.loads(body)
    assert isinstance(scores, list) and len(scores) == 1000, str(scores)[:300]
    labels = (ROOT / "labels" / "imagenet-1k.txt").read_text().splitlines()
    assert labels[max(range(1000), key=scores.__getitem__)] == TOP_LABEL


CHECKS = {"health": check_health, "predictions": check_predictions, "resize": check_resize,
          "image": check_image, "table": check_table, "invocations": check_invocations}


@pytest.mark.parametrize("block", RUNNABLE, ids=str)
def test_documented_command_answers_as_the_docs_say(block, api_url, photo, contract, tmp_path):
    code = block.code.replace(LOCAL_URL, api_url).replace("photo.jpg", str(photo))
    expected = [(a.partition(":")[0], a.partition(":")[2]) for a in block.answers]
    assert all(kind in CHECKS for kind, _ in expected), f"{block}: unknown answer in {block.marker!r}"
    written = [ROOT / arg.split(",")[0] for kind, arg in expected if kind == "image"]
    for path in written:
        assert not path.exists(), f"{path} exists already; the block would overwrite it"
    curl_home = tmp_path / "curl"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text('write-out = "\\nHTTP_STATUS %{http_code}\\n"\n')
    env = {**os.environ, "API_URL": api_url, "CURL_HOME": str(curl_home)}
    try:
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", code], cwd=ROOT, env=env,
                              capture_output=True, timeout=300)
        assert proc.returncode == 0, f"{block} failed:\n{code}\n{proc.stderr.decode()}"
        answers = split_answers(proc.stdout)
        assert len(answers) == len(expected), f"{block}: {len(answers)} answers, marker says {block.marker!r}"
        for (kind, arg), (status, body) in zip(expected, answers):
            CHECKS[kind](status, body, arg, contract)
    finally:
        for path in written:
            path.unlink(missing_ok=True)
