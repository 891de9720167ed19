"""The wheel is the product: `uv build --wheel`, installed into a fresh venv with nothing of
this checkout on the path, runs `textbridge serve` from an empty folder (SQLite, sandbox mode:
the simulator plays the providers), migrates its own database there, serves the inbox's
templates and static files, and sends a message through the HTTP API until it is delivered.
The dependencies are the lock file's (`uv export`), from uv's cache or PyPI."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..support.ci import skip_or_fail
from ..support.live import scaled, wait_until
from ..support.processes import answers, environment, free_port
from ..support.textbridge import CONTACT
from .layout import ROOT

DEV_KEY = re.compile(r"\b(tb_[A-Za-z0-9_-]{20,})")


def _uv() -> str:
    found = shutil.which("uv")
    if found is None:
        skip_or_fail("uv is not installed (`make test` installs it)")
    return found


def _clean_environment(**extra: str) -> dict[str, str]:
    """The test's environment without textbridge's settings, and without anything that would
    let the venv see this checkout (PYTHONPATH) or uv's project venv."""
    env = environment(**extra)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"):
        env.pop(name, None)
    return env


def _run(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=_clean_environment(), capture_output=True, text=True,
        timeout=scaled(120),
    )  # fmt: skip
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout installed; its `bin` folder."""
    uv, folder = _uv(), tmp_path_factory.mktemp("wheel")
    _run(uv, "build", "--wheel", "--out-dir", str(folder / "dist"))
    wheels = list((folder / "dist").glob("textbridge-*.whl"))
    assert len(wheels) == 1, wheels
    requirements = folder / "requirements.txt"
    _run(uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes",
         "--quiet", "--output-file", str(requirements))  # fmt: skip
    venv = folder / "venv"
    _run(uv, "venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    _run(uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements),
         str(wheels[0]))  # fmt: skip
    return venv / "bin"


@pytest.mark.timeout(400)  # the first test builds and installs the wheel (module fixture)
def test_the_installed_package_is_the_wheel_not_this_checkout(
    installed: Path, tmp_path: Path
) -> None:
    where = _run(str(installed / "python"), "-c", "import textbridge; print(textbridge.__file__)",
                 cwd=tmp_path)  # fmt: skip
    assert Path(where.strip()).is_relative_to(installed.parent)
    assert not Path(where.strip()).is_relative_to(ROOT / "src")


@pytest.fixture(scope="module")
def served(
    installed: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, Path]]:
    """`textbridge serve` from the venv, in an empty folder: its URL, the folder and its log."""
    tmp_path = tmp_path_factory.mktemp("served")
    site = tmp_path / "site"
    site.mkdir()
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(installed / "textbridge"), "serve", "--port", str(port)],
            cwd=site, stdout=out, stderr=subprocess.STDOUT, env=_clean_environment(),
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{url}/readyz") or process.poll() is not None, timeout=60)
        assert process.poll() is None, log.read_text()
        yield url, site, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(scaled(30))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


@pytest.mark.timeout(400)  # the build, the install and a start-up, on a loaded machine
def test_serve_from_the_wheel_sends_a_message_until_delivered(
    served: tuple[str, Path, Path],
) -> None:
    url, site, log = served
    assert (site / "textbridge.db").exists()  # it made and migrated its database here
    found = DEV_KEY.search(log.read_text())
    assert found, f"no development key printed:\n{log.read_text()}"
    headers = {"Authorization": f"Bearer {found.group(1)}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
        sent = api.post("/api/v1/messages", json={"to": CONTACT, "text": "from the wheel"})
        assert sent.status_code == 202, sent.text
        message = f"/api/v1/messages/{sent.json()['id']}"
        wait_until(lambda: api.get(message).json()["status"] == "delivered", timeout=30,
                   interval=0.2)  # fmt: skip


@pytest.mark.timeout(400)  # may be the first to start `serve` (module fixture)
def test_the_wheel_serves_the_inbox_assets(served: tuple[str, Path, Path]) -> None:
    url, _, _ = served
    login = httpx.get(f"{url}/login", timeout=30)
    assert login.status_code == 200
    assets = re.findall(r'(?:href|src)="(/static/[^"?]+)', login.text)
    assert assets, "the sign-in page links no static file"
    for asset in assets:
        assert httpx.get(f"{url}{asset}", timeout=30).status_code == 200, asset
