"""The report opened in a real browser: headless Chromium parses it, logs no page error, and
paints a non-blank page, with the network cut off (the page must need nothing from outside)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shortcut import report
from test_report import build

pytestmark = pytest.mark.browser

CANDIDATES = ["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"]
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any lookup fails
]


def chromium() -> str:
    for name in CANDIDATES:
        path = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if path:
            return path
    pytest.skip("Chromium not found (install it with `apt-get install -y chromium`); browser test skipped")


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def page_errors(stderr: str) -> list[str]:
    """Console errors of the page (Chromium's own dbus/GPU noise is not the page's)."""
    return [line for line in stderr.splitlines()
            if "Uncaught" in line or ("CONSOLE" in line and ("ERROR" in line or "error" in line.lower()))
            or ("ERROR:" in line and "file://" in line)]


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    _, out = build(tmp / "inputs", tmp / "out")
    return out / "report.html"


def test_chromium_parses_the_report_without_errors(page, tmp_path):
    binary = chromium()
    proc = run_chromium(binary, tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom",
                        page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert '<h2>1. Verdict</h2>' in dom
    assert "Shortcut: <code>alpha</code> (confirmed)." in dom  # answer.json's headline, first
    assert dom.count("<img") == len(report.FIGURES)
    assert page_errors(proc.stderr) == []


def test_chromium_screenshot_is_not_blank(page, tmp_path):
    import matplotlib.image as mpimg

    binary = chromium()
    shot = tmp_path / "report.png"
    proc = run_chromium(binary, tmp_path / "profile", "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
                        "--window-size=1280,2000", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert page_errors(proc.stderr) == []
    assert shot.is_file() and shot.stat().st_size > 10_000
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    gray = pixels[..., :3].mean(axis=2)
    assert float(np.var(gray)) > 1e-3  # text, tables and figures, not a blank page
    assert float((gray < 0.5).mean()) > 0.005  # some dark ink: the verdict text is painted
    top = gray[:700]  # the title and the verdict are in the first screenful
    assert float((top < 0.5).mean()) > 0.005
