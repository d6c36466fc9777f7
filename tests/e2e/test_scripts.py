"""The user-facing helper scripts against the running stack: scripts/predict and scripts/smoke-test."""

import io
import os
import subprocess

from conftest import ROOT


def run(*args, timeout=180):
    return subprocess.run([str(ROOT / "scripts" / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "API_URL": ""})


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


def test_predict_reports_api_errors_and_exits_non_zero(api_url, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    proc = run("predict", str(text), "--url", api_url)
    assert proc.returncode == 1
    assert "HTTP 400 invalid_image" in proc.stderr


def test_smoke_test_passes_on_the_stack_and_fails_elsewhere(api_url, model_url):
    ok = run("smoke-test", api_url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "smoke test passed" in ok.stdout
    # model-server is not the API: its /health does not exist.
    bad = run("smoke-test", model_url)
    assert bad.returncode == 1
    assert bad.stderr.startswith("FAILED: GET /health")
