"""`pip install .` gives a working `armswatch`: built offline into a fresh venv, it checks
the default config and carries every data file under watchers/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
NOT_SOURCE = (".git", ".venv", "tests", "bench", "build", "*.egg-info", "__pycache__", "*.db*")
NOT_SOURCE += (".pytest_cache", ".ruff_cache")


def pip_env() -> dict[str, str]:
    """The environment of an offline pip: no user config, no version check, no prompts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def fresh_venv(folder: Path) -> Path:
    """A new venv without pip or setuptools of its own that borrows this one's installed
    packages (the runtime dependencies, setuptools) through a .pth file; its python."""
    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "borrowed.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


def data_files(package: Path) -> set[str]:
    """Every file in a data/ folder under the package, relative to it."""
    return {
        str(path.relative_to(package))
        for path in package.rglob("*")
        if path.is_file() and "data" in path.relative_to(package).parts[:-1]
    }


def test_pip_install_gives_the_armswatch_command(tmp_path):
    source = tmp_path / "armswatch"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    python = fresh_venv(tmp_path / "venv")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]  # this pip, into that venv
    install = [*pip, "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*install, "--no-index", str(source)], capture_output=True, text=True, env=pip_env()
    )
    assert done.returncode == 0, done.stdout + done.stderr

    armswatch = tmp_path / "venv" / "bin" / "armswatch"
    check = [armswatch, "--config", str(ROOT / "config.toml"), "check"]
    done = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "feeds: 25" in done.stdout and "iran-to-russia [priority]" in done.stdout

    where = [python, "-c", "import watchers; print(watchers.__file__)"]
    done = subprocess.run(where, cwd=tmp_path, capture_output=True, text=True, check=True)
    installed = Path(done.stdout.strip()).parent
    assert installed.is_relative_to(tmp_path / "venv"), installed
    assert data_files(installed) == data_files(ROOT / "watchers")
    assert any(name.endswith(".tsv") for name in data_files(installed))


def test_python_m_watchers_is_the_same_command():
    done = subprocess.run(
        [sys.executable, "-m", "watchers", "check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "feeds: 25" in done.stdout


def test_each_runtime_dependency_is_pinned_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if found := re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line):
            pins[found[1].lower()] = found[2]
    for text in project["dependencies"]:
        need = Requirement(text)
        assert need.name.lower() in pins, f"{need.name} is not pinned in requirements.txt"
        assert need.specifier.contains(pins[need.name.lower()]), (text, pins[need.name.lower()])
