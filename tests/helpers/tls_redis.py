"""A TLS-only redis-server of a test's own: a throwaway CA, a server certificate for 127.0.0.1 and localhost and a
client certificate (made with `cryptography`), `redis-server --port 0 --tls-port N` on a free loopback port.
redis-server asks clients for a certificate signed by the CA (`tls-auth-clients yes`, its default), so a
connection needs the CA file, the client certificate and its key: every TLS option Runboard passes on.

redis-server comes from Debian's package (scripts/doctor.sh --install ci), built with TLS."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.helpers.servers import free_port


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass
class TlsRedis:
    port: int
    files: TlsFiles
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """rediss:// without TLS options: they come from RUNBOARD_REDIS_CA_FILE / _CERT_FILE / _KEY_FILE."""
        return f'rediss://127.0.0.1:{self.port}/0'

    @property
    def url_with_options(self) -> str:
        """rediss:// with the TLS options as redis-py's (and kombu's) ssl_* query parameters."""
        query = urlencode(
            {
                'ssl_cert_reqs': 'required',
                'ssl_ca_certs': self.files.ca,
                'ssl_certfile': self.files.client_cert,
                'ssl_keyfile': self.files.client_key,
            }
        )
        return f'{self.url}?{query}'

    @property
    def env(self) -> dict[str, str]:
        """What a Runboard process needs to reach it: the URL and the TLS files."""
        return {
            'RUNBOARD_REDIS_URL': self.url,
            'RUNBOARD_REDIS_CA_FILE': str(self.files.ca),
            'RUNBOARD_REDIS_CERT_FILE': str(self.files.client_cert),
            'RUNBOARD_REDIS_KEY_FILE': str(self.files.client_key),
        }

    def start(self) -> None:
        """Starts it (again, on the same port after stop()); returns once it answers over TLS."""
        files = self.files
        self.process = subprocess.Popen(
            [
                'redis-server',
                '--port', '0',
                '--tls-port', str(self.port),
                '--bind', '127.0.0.1',
                '--tls-cert-file', str(files.server_cert),
                '--tls-key-file', str(files.server_key),
                '--tls-ca-cert-file', str(files.ca),
                '--save', '',
                '--appendonly', 'no',
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.answers():
            assert self.process.poll() is None, 'redis-server exited (built without TLS?)'
            assert time.monotonic() < deadline, 'the TLS redis-server did not start'
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def answers(self) -> bool:
        import redis

        client = redis.Redis.from_url(self.url_with_options, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


@contextmanager
def tls_redis(directory: Path) -> Iterator[TlsRedis]:
    """A started TLS-only redis-server, its certificates in `directory`; stopped at the end."""
    if shutil.which('redis-server') is None:
        pytest.skip('redis-server not installed (scripts/doctor.sh --install ci)')
    server = TlsRedis(free_port(), make_certificates(directory))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_certificates(directory: Path) -> TlsFiles:
    """A CA, and a server and a client certificate it signed (EC P-256, valid a day)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'Runboard test CA')])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    files = TlsFiles(
        ca=directory / 'ca.pem',
        server_cert=directory / 'server.pem',
        server_key=directory / 'server.key',
        client_cert=directory / 'client.pem',
        client_key=directory / 'client.key',
    )
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for name, usage, cert_path, key_path in (
        ('127.0.0.1', ExtendedKeyUsageOID.SERVER_AUTH, files.server_cert, files.server_key),
        ('runboard', ExtendedKeyUsageOID.CLIENT_AUTH, files.client_cert, files.client_key),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            _builder(subject, ca_name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(IPv4Address('127.0.0.1')), x509.DNSName('localhost')]),
                critical=False,
            )
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
    return files


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )
