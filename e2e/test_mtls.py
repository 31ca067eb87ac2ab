"""mTLS in Envoy 1.40: a TLS listener that requires client certificates (a CA, a server
and client certificates made here with the `openssl` command), the identity taken from
the peer's URI SAN (`identity: {"source": "peer_principal"}`) and `cnf.x5t#S256`
binding checked against the certificate Envoy really received."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest

import envoyrun as er

ALICE = "spiffe://example.com/alice"
BOB = "spiffe://example.com/bob"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_cert(d: Path, name: str, ext: str) -> None:
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(ext + "\n", encoding="utf-8")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-sha256", "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp) -> Path:
    d = tmp / "pki"
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=jitgate e2e CA", cwd=d)
    make_cert(d, "server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    make_cert(d, "alice", f"subjectAltName=URI:{ALICE}\nextendedKeyUsage=clientAuth")
    # Another certificate with alice's name: the identity matches, the binding must not.
    make_cert(d, "alice2", f"subjectAltName=URI:{ALICE}\nextendedKeyUsage=clientAuth")
    make_cert(d, "bob", f"subjectAltName=URI:{BOB}\nextendedKeyUsage=clientAuth")
    return d


def x5t_s256(cert: Path) -> str:
    """base64url SHA-256 of the certificate's DER (RFC 8705 `x5t#S256`)."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text(encoding="ascii"))
    return er.b64url(hashlib.sha256(der).digest())


def client(pki: Path, name: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if name:
        ctx.load_cert_chain(str(pki / f"{name}.crt"), str(pki / f"{name}.key"))
    return ctx


@pytest.fixture(scope="module")
def mtls(envoys, tmp, upstream, approvals, pki):
    cfg = er.example_config([approvals.public_jwk], identity={"source": "peer_principal"})
    e = er.Envoy(config=cfg, workdir=tmp / "envoy", upstream_port=upstream.port, name="mtls",
                 tls={"cert": str(pki / "server.crt"), "key": str(pki / "server.key"), "ca": str(pki / "ca.crt")})
    envoys.append(e)
    e.start()
    yield e
    e.stop()


def path() -> str:
    return f"/orders?e2e={uuid.uuid4().hex[:12]}"


def test_bound_token_with_its_certificate_is_allowed(mtls, approvals, pki):
    token = approvals.sign(sub=ALICE, extra_claims={"cnf": {"x5t#S256": x5t_s256(pki / "alice.crt")}})
    p = path()
    r = mtls.get(p, [("x-jit-approval", token)], tls=client(pki, "alice"))
    assert r.status == 200, r.body
    assert r.upstream_headers()["x-jit-subject"] == [ALICE]
    audit = mtls.wait_audit(lambda a: a.get("path") == p)
    assert audit["identity"] == ALICE and audit["subject"] == ALICE and audit["allow"] is True


def test_bound_token_with_another_certificate_is_binding_mismatch(mtls, approvals, pki, upstream):
    token = approvals.sign(sub=ALICE, extra_claims={"cnf": {"x5t#S256": x5t_s256(pki / "alice.crt")}})
    p = path()
    r = mtls.get(p, [("x-jit-approval", token)], tls=client(pki, "alice2"))
    assert r.status == 401
    assert r.header("www-authenticate") == 'JIT-Approval error="token_binding_mismatch"'
    assert r.json()["reason"] == "token_binding_mismatch"
    assert not [s for s in upstream.seen if s["path"] == p]


def test_unbound_token_needs_the_matching_principal(mtls, approvals, pki):
    token = approvals.sign(sub=ALICE)
    assert mtls.get(path(), [("x-jit-approval", token)], tls=client(pki, "alice")).status == 200
    r = mtls.get(path(), [("x-jit-approval", token)], tls=client(pki, "bob"))
    assert r.status == 401 and r.json()["reason"] == "token_subject_mismatch"


def test_no_client_certificate_no_connection(mtls, approvals, pki):
    token = approvals.sign(sub=ALICE)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        mtls.get(path(), [("x-jit-approval", token)], tls=client(pki, None))
