"""The pinned sets: `make demo` installs requirements-demo.lock, the rest requirements.lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    return {_normalise(pkg): version for pkg, version in _PIN.findall(text)}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_demo_lock_pins_what_the_full_lock_pins() -> None:
    """A package shared by both locks has one version: going from `make demo` to `make test`
    adds packages and never swaps one the demo already runs on."""
    demo, full = _pins("requirements-demo.lock"), _pins("requirements.lock")
    assert demo, "requirements-demo.lock pins nothing"
    assert not demo.keys() - full.keys(), (
        "run `make lock`: the demo lock has packages the full lacks"
    )
    differing = {pkg: (v, full[pkg]) for pkg, v in demo.items() if full[pkg] != v}
    assert not differing, f"run `make lock`: versions differ (demo, full): {differing}"


def test_demo_lock_covers_the_runtime_dependencies_and_no_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    demo = _pins("requirements-demo.lock")
    required = {
        _normalise(re.split(r"[\[<>=!~; ]", dep, maxsplit=1)[0]) for dep in project["dependencies"]
    }
    assert not required - demo.keys(), "run `make lock`: the demo lock misses dependencies"
    # the heavy and development-only extras stay out of the demo's install
    for extra_only in ("pyspark", "pytest", "moto", "implicit", "troposphere", "playwright"):
        assert extra_only not in demo, f"{extra_only} is an extra; the demo lock must not pin it"
    # Chainlit's SQLAlchemy history runs on the async engine, which needs greenlet
    assert "greenlet" in demo
