"""nginx.conf passes `nginx -t` with Debian's nginx (installed by scripts/test.sh).

Only what cannot exist outside docker-compose is swapped: the service names `web` and
`gateway` (resolved by compose's DNS) become 127.0.0.1, and the TLS pair becomes a
throw-away self-signed one. Everything else is checked as shipped.
"""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "openclaw.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _testable(tmp_path: Path, text: str) -> Path:
    cert, key = _self_signed(tmp_path)
    swaps = {"server web:8000;": "server 127.0.0.1:8000;", "server gateway:8001;": "server 127.0.0.1:8001;",
             "/etc/nginx/certs/fullchain.pem": str(cert), "/etc/nginx/certs/privkey.pem": str(key),
             "pid /var/run/nginx.pid;": f"pid {tmp_path}/nginx.pid;"}
    for old, new in swaps.items():
        assert old in text, f"nginx.conf no longer contains {old!r}; update this test's swaps"
        text = text.replace(old, new)
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


def _nginx_t(conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NGINX, "-t", "-q", "-c", str(conf), "-p", str(prefix)], capture_output=True, text=True,
                          timeout=30)


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    return tmp_path


def test_nginx_conf_passes_nginx_t(tmp_path: Path, prefix: Path) -> None:
    assert Path(NGINX).exists(), "nginx is not installed (scripts/test.sh installs Debian's nginx)"
    result = _nginx_t(_testable(tmp_path, (ROOT / "nginx.conf").read_text()), prefix)
    assert result.returncode == 0, result.stderr


def test_nginx_t_catches_a_broken_conf(tmp_path: Path, prefix: Path) -> None:
    broken = (ROOT / "nginx.conf").read_text().replace("proxy_next_upstream_tries 2;", "proxy_next_upstream_tries;")
    result = _nginx_t(_testable(tmp_path, broken), prefix)
    assert result.returncode != 0 and "proxy_next_upstream_tries" in result.stderr
