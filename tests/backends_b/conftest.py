"""Fixtures for the HTTP backends: one small deployment, built once, and servers in child processes.

The deployment (16 holders, every 4th card reported lost) is rebuilt identically by each server
process from the same spec; the tests hold the client side: card data, CA certificates, and a spare
card the server has never heard of.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from real_backends.load.deployment import Deployment, DeploymentSpec, Holder
from real_backends.load.server import serve

SPEC = DeploymentSpec(seed=20260401, holders=16, revoked_every=4, key_pool=2)


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    return Deployment.build(SPEC)


@pytest.fixture(scope="session")
def stranger(deployment: Deployment) -> Holder:
    """A card issued by a twin of the centre after the server's copy was built: unknown to the server."""
    return Deployment.build(SPEC).extra_holder()


@pytest.fixture(scope="session")
def ocsp_server() -> Iterator[str]:
    with serve("ocsp", SPEC) as url:
        yield url


@pytest.fixture(scope="session")
def pem_dir(tmp_path_factory: pytest.TempPathFactory, deployment: Deployment, stranger: Holder) -> Path:
    """auth_root.pem, sign_root.pem, holder-<i>.pem and stranger.pem for openssl."""
    out = tmp_path_factory.mktemp("pem")
    (out / "auth_root.pem").write_bytes(deployment.ca_pem("auth"))
    (out / "sign_root.pem").write_bytes(deployment.ca_pem("sign"))
    for h in deployment.holders:
        (out / f"holder-{h.index}.pem").write_bytes(h.auth_certificate.public_bytes(Encoding.PEM))
    (out / "stranger.pem").write_bytes(stranger.auth_certificate.public_bytes(Encoding.PEM))
    return out
