"""The user-facing helper scripts: scripts/predict and scripts/smoke-test.

The tests that take `api_url` run against the stack that scripts/test.d/60-e2e.sh started; the
others check a user's mistakes that need no stack (a missing file, a non-image, a bad URL,
nothing listening, a server that is not HTTP): each ends in one clear line, never a traceback.
"""

import os
import socket
import subprocess
import threading

import pytest
from conftest import ROOT


def run(*args, timeout=180):
    return subprocess.run([str(ROOT / "scripts" / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "API_URL": ""})


def assert_one_line_error(proc, status: int, *fragments: str) -> None:
    """A user's mistake: the given exit status, nothing on stdout, one `error:` line on stderr."""
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def small_png(tmp_path):
    from PIL import Image

    path = tmp_path / "small.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(path)
    return path


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_predict_prints_a_table(api_url, flower, tmp_path):
    image = tmp_path / "flower.jpg"
    image.write_bytes(flower)
    for extra in ([], ["--raw"]):
        proc = run("predict", str(image), "--k", "3", "--url", api_url, *extra)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].split() == ["rank", "index", "probability", "label"]
        assert lines[1].split()[:2] == ["1", "985"] and lines[1].endswith("daisy")
        assert lines[-1] == "(3 of 1000 classes)"


def test_predict_shrinks_a_photo_over_the_upload_limit(api_url, tmp_path):
    from PIL import Image

    # Noise does not compress: a 1600x1200 PNG of noise is ~5.8 MB, over the 4.4 MB limit.
    big = tmp_path / "big.png"
    Image.frombytes("RGB", (1600, 1200), os.urandom(1600 * 1200 * 3)).save(big)
    assert big.stat().st_size > 4_400_000
    proc = run("predict", str(big), "--k", "1", "--url", api_url)
    assert proc.returncode == 0, proc.stderr
    assert "over the 4.4 MB upload limit" in proc.stderr
    assert proc.stdout.splitlines()[-1] == "(1 of 1000 classes)"


def test_predict_reports_the_apis_error_code_and_exits_1(api_url, tmp_path):
    # JPEG magic bytes, so it is sent; the model cannot decode it.
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00garbage" * 50)
    assert_one_line_error(run("predict", str(corrupt), "--url", api_url), 1, "HTTP 400 invalid_image", "x-request-id")


def test_predict_reports_a_bad_k_from_the_api(api_url, small_png):
    assert_one_line_error(run("predict", str(small_png), "--k", "0", "--url", api_url), 1, "HTTP 400 invalid_k")


def test_predict_refuses_a_missing_file_before_any_request(tmp_path):
    assert_one_line_error(run("predict", str(tmp_path / "nope.jpg")), 2, "nope.jpg: no such file")


def test_predict_refuses_a_directory(tmp_path):
    assert_one_line_error(run("predict", str(tmp_path)), 2, "is a directory, not an image")


def test_predict_refuses_a_file_that_is_not_an_image(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert_one_line_error(run("predict", str(text)), 2, "notes.txt is not an image", "JPEG, PNG, WebP, GIF or BMP")


def test_predict_refuses_an_empty_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert_one_line_error(run("predict", str(empty)), 2, "empty.jpg is empty")


def test_predict_refuses_an_oversized_file_it_cannot_downscale(tmp_path):
    # Over the upload limit, so scripts/predict would downscale it, but only the magic bytes are JPEG.
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5_000_000))
    assert_one_line_error(run("predict", str(fake)), 2, "fake.jpg is over the 4.4 MB upload limit",
                          "cannot be downscaled")


@pytest.mark.parametrize("url, says", [
    ("localhost:9000", "not an http:// or https:// URL"),
    ("ftp://127.0.0.1/", "not an http:// or https:// URL"),
    ("http://127.0.0.1:port/", "not a valid URL"),
    ("http://", "not an http:// or https:// URL"),
])
def test_predict_refuses_a_bad_url(small_png, url, says):
    assert_one_line_error(run("predict", str(small_png), "--url", url), 2, "--url:", says)


def test_predict_says_when_nothing_listens(small_png):
    port = unused_port()
    assert_one_line_error(run("predict", str(small_png), "--url", f"http://127.0.0.1:{port}"), 1,
                          f"connection refused: nothing listens on 127.0.0.1:{port}", "scripts/dev")


def test_predict_says_when_the_server_does_not_speak_http(small_png):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()

        def answer_garbage():
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

        threading.Thread(target=answer_garbage, daemon=True).start()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        assert_one_line_error(run("predict", str(small_png), "--url", url), 1, "did not answer in HTTP")


def test_predict_reports_an_answer_that_is_not_the_apis(model_url, small_png):
    # model-server is a web server but not the API: its 404 has neither the contract's error
    # shape nor API Gateway's, and scripts/predict shows the status and the start of the body.
    proc = run("predict", str(small_png), "--url", model_url)
    assert_one_line_error(proc, 1, "HTTP 404")


def test_smoke_test_passes_on_the_stack_and_fails_elsewhere(api_url, model_url):
    ok = run("smoke-test", api_url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "smoke test passed" in ok.stdout
    # model-server is not the API: its /health does not exist.
    bad = run("smoke-test", model_url)
    assert bad.returncode == 1
    assert bad.stderr.startswith("FAILED: GET /health")


def test_smoke_test_says_when_nothing_listens():
    url = f"http://127.0.0.1:{unused_port()}"
    proc = run("smoke-test", url)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"FAILED: cannot reach {url}: connection refused: nothing listens on {url[7:]}"
