"""A test certificate authority and a server certificate for 127.0.0.1, made with ``cryptography``.

The Graph test server speaks HTTPS (msal refuses anything else); the process under test trusts
this CA through ``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` as it would trust a company's own.
Also makes the app's client certificate for certificate-based client credentials.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TestCA:
    ca_file: Path  # the CA certificate (PEM): what SSL_CERT_FILE / REQUESTS_CA_BUNDLE point at
    cert_file: Path  # the server's certificate chain (PEM)
    key_file: Path  # the server's private key (PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key) -> bytes:  # type: ignore[no-untyped-def]
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_test_ca(directory: Path) -> TestCA:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder().subject_name(_name("avsteg test CA")).issuer_name(_name("avsteg test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca = TestCA(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    ca.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca.key_file.write_bytes(_pem_key(key))
    return ca


def make_client_certificate(path: Path) -> x509.Certificate:
    """A self-signed RSA certificate + key in one PEM (what an app registration is given)."""
    now = dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder().subject_name(_name("avsteg graph app"))
        .issuer_name(_name("avsteg graph app")).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(_pem_key(key) + cert.public_bytes(serialization.Encoding.PEM))
    return cert


def assertion_ok(assertion: str, certificate: Any, client_id: str) -> bool:
    """A client assertion (RFC 7523 JWT) signed by the app's registered certificate."""
    if certificate is None:
        return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        head_b64, claims_b64, sig_b64 = assertion.split(".")
        header = json.loads(b64url(head_b64))
        claims = json.loads(b64url(claims_b64))
        signature = b64url(sig_b64)
    except (ValueError, json.JSONDecodeError):
        return False
    der = certificate.public_bytes(serialization.Encoding.DER)
    thumbs = {header.get("x5t"): hashlib.sha1(der).digest(),  # noqa: S324 - the protocol's
              header.get("x5t#S256"): hashlib.sha256(der).digest()}
    if not any(k and b64url(k) == v for k, v in thumbs.items()):
        return False
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return False
    if float(claims.get("exp", 0)) < time.time():
        return False
    pad: Any = {"RS256": padding.PKCS1v15(),
                "PS256": padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)}.get(header.get("alg"))
    if pad is None:
        return False
    try:
        certificate.public_key().verify(signature, f"{head_b64}.{claims_b64}".encode(), pad, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


