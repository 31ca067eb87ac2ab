"""Fixtures for the end-to-end tests in a real Envoy (see e2e/README.md).

The tests never skip: a missing Envoy, `jitgate` command or filter is an error (make
test-envoy installs and builds them first)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import envoyrun as er


@pytest.fixture(scope="session", autouse=True)
def prerequisites():
    missing = [str(p) for p in (er.ENVOY, er.JITGATE, er.FILTER) if not Path(p).exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make test-envoy` (it installs Envoy and builds the filter)",
                    pytrace=False)
    assert er.envoy_version() == "1.40.0"


@pytest.fixture(scope="session")
def tmp():
    d = er.workdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def approvals(tmp):
    return er.Approvals(tmp / "keys", kid="e2e-k1")


@pytest.fixture(scope="session")
def upstream():
    u = er.Upstream()
    yield u
    u.close()


@pytest.fixture(scope="session")
def envoys():
    """Every Envoy a test starts is registered here and killed at the end, whatever happens."""
    started: list[er.Envoy] = []
    yield started
    for e in started:
        e.stop()


@pytest.fixture
def start(envoys, tmp, upstream):
    """start(config, **Envoy fields) -> a ready Envoy, stopped when the test ends."""
    mine: list[er.Envoy] = []

    def _start(config: dict, ready: bool = True, **kw) -> er.Envoy:
        kw.setdefault("upstream_port", upstream.port)
        e = er.Envoy(config=config, workdir=tmp / "envoy", **kw)
        envoys.append(e)
        mine.append(e)
        if ready:
            e.start()
        else:
            e.spawn()
        return e

    yield _start
    for e in mine:
        e.stop()


REVOKED = "appr-revoked-7"


@pytest.fixture(scope="session")
def gate(envoys, tmp, upstream, approvals):
    """The shipped example configuration (seed policy) trusting the test key, with one
    revoked approval, in Envoy with 2 workers."""
    cfg = er.example_config([approvals.public_jwk], revoked=[REVOKED])
    e = er.Envoy(config=cfg, workdir=tmp / "envoy", upstream_port=upstream.port, name="gate")
    envoys.append(e)
    e.start()
    yield e
    e.stop()
