"""A self-signed certificate for the sandbox's Kubernetes port on 127.0.0.1.

kubectl sends a kubeconfig's bearer token only over TLS, so the sandbox's API server needs
a certificate; this module makes one (RSA-2048, SHA-256, valid for ``127.0.0.1`` and
``localhost``) with nothing but the standard library, once per process.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["SandboxCertificate", "sandbox_certificate", "server_context"]

_E = 65537
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, math.isqrt(p) + 1, 2))]


def _probably_prime(n: int, rounds: int) -> bool:
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = 2 + secrets.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        # The two top bits set make the product of two such primes exactly 2 * bits long.
        candidate = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if candidate % _E != 1 and _probably_prime(candidate, 1) and _probably_prime(candidate, 40):
            return candidate


# --------------------------------------------------------------------------- DER


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _integer(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _sequence(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _name(common_name: str) -> bytes:
    attribute = _sequence(_oid("2.5.4.3"), _tlv(0x0C, common_name.encode()))
    return _sequence(_tlv(0x31, attribute))


def _time(moment: datetime) -> bytes:
    return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())


def _extension(oid: str, critical: bool, value: bytes) -> bytes:
    flag = _tlv(0x01, b"\xff") if critical else b""
    return _sequence(_oid(oid), flag, _tlv(0x04, value))


def _pem(label: str, der: bytes) -> str:
    text = base64.b64encode(der).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


_SHA256_WITH_RSA = _sequence(_oid("1.2.840.113549.1.1.11"), b"\x05\x00")
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


@dataclass(frozen=True)
class SandboxCertificate:
    """A self-signed certificate (it is its own CA) and its private key, both PEM."""

    cert_pem: str
    key_pem: str

    @property
    def cert_base64(self) -> str:
        """The certificate as a kubeconfig's ``certificate-authority-data`` wants it."""
        return base64.b64encode(self.cert_pem.encode()).decode()


@functools.cache
def sandbox_certificate() -> SandboxCertificate:
    """The process's certificate for 127.0.0.1 (made on first use, ~0.5 s)."""
    p, q = _prime(1024), _prime(1024)
    while p == q:
        q = _prime(1024)
    n = p * q
    phi = (p - 1) * (q - 1)
    d = pow(_E, -1, phi)
    size = (n.bit_length() + 7) // 8

    now = datetime.now(UTC).replace(microsecond=0)
    public_key = _sequence(
        _sequence(_oid("1.2.840.113549.1.1.1"), b"\x05\x00"),
        _tlv(0x03, b"\x00" + _sequence(_integer(n), _integer(_E))),
    )
    san = _sequence(_tlv(0x87, bytes([127, 0, 0, 1])), _tlv(0x82, b"localhost"))
    key_usage = _tlv(0x03, bytes([0x02, 0xA4]))  # digitalSignature, keyEncipherment, keyCertSign
    server_auth = _sequence(_oid("1.3.6.1.5.5.7.3.1"))
    extensions = _sequence(
        _extension("2.5.29.19", True, _sequence(_tlv(0x01, b"\xff"))),
        _extension("2.5.29.15", True, key_usage),
        _extension("2.5.29.37", False, server_auth),
        _extension("2.5.29.17", False, san),
    )
    tbs = _sequence(
        _tlv(0xA0, _integer(2)),
        _integer(secrets.randbits(63) | 1),
        _SHA256_WITH_RSA,
        _name("incident-sandbox"),
        _sequence(_time(now - timedelta(days=1)), _time(now + timedelta(days=365))),
        _name("incident-sandbox"),
        public_key,
        _tlv(0xA3, extensions),
    )
    digest = _SHA256_DIGEST_INFO + hashlib.sha256(tbs).digest()
    padded = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
    signature = pow(int.from_bytes(padded, "big"), d, n).to_bytes(size, "big")
    cert = _sequence(tbs, _SHA256_WITH_RSA, _tlv(0x03, b"\x00" + signature))
    key = _sequence(
        _integer(0),
        _integer(n),
        _integer(_E),
        _integer(d),
        _integer(p),
        _integer(q),
        _integer(d % (p - 1)),
        _integer(d % (q - 1)),
        _integer(pow(q, -1, p)),
    )
    return SandboxCertificate(_pem("CERTIFICATE", cert), _pem("RSA PRIVATE KEY", key))


def server_context(certificate: SandboxCertificate | None = None) -> ssl.SSLContext:
    """An SSL context serving the certificate (the key touches disk only while loading)."""
    certificate = certificate or sandbox_certificate()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="incident-sandbox-tls-") as folder:
        cert_path = Path(folder) / "cert.pem"
        key_path = Path(folder) / "key.pem"
        cert_path.write_text(certificate.cert_pem)
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(certificate.key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context
