"""Fixtures for channel tests: a fake Vonage HTTPS server the real SDK talks to, and its keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.vonage import VonageChannel, VonageConfig
from tests.channels.fakes.vonage_server import FakeVonage

API_KEY = "abcd1234"
API_SECRET = "s3cr3t-api"
APPLICATION_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
SIGNATURE_SECRET = "sig-secret-0123456789-0123456789-abcdef"


@dataclass(frozen=True)
class AppKeys:
    private_pem: str
    public_pem: bytes


@pytest.fixture(scope="session")
def app_keys() -> AppKeys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return AppKeys(private_pem=private_pem, public_pem=public_pem)


@pytest.fixture(scope="session")
def _vonage_server(app_keys: AppKeys) -> Iterator[FakeVonage]:
    fake = FakeVonage(
        api_key=API_KEY, api_secret=API_SECRET, application_id=APPLICATION_ID, public_key_pem=app_keys.public_pem
    )
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_vonage(_vonage_server: FakeVonage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeVonage:
    """The fake server, trusted by ``requests`` for this test only, with a clean record."""
    bundle = tmp_path / "fake-vonage-ca.pem"
    bundle.write_bytes(_vonage_server.ca_pem)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    _vonage_server.requests.clear()
    return _vonage_server


@pytest.fixture
def sms_api_channel(fake_vonage: FakeVonage) -> VonageChannel:
    return VonageChannel(
        VonageConfig(
            api_key=API_KEY,
            api_secret=API_SECRET,
            signature_secret=SIGNATURE_SECRET,
            api_host=fake_vonage.host,
            rest_host=fake_vonage.host,
            timeout_seconds=5,
        )
    )


@pytest.fixture
def messages_channel(fake_vonage: FakeVonage, app_keys: AppKeys) -> VonageChannel:
    return VonageChannel(
        VonageConfig(
            api_key=API_KEY,
            api_secret=API_SECRET,
            application_id=APPLICATION_ID,
            private_key=app_keys.private_pem,
            signature_secret=SIGNATURE_SECRET,
            api_host=fake_vonage.host,
            rest_host=fake_vonage.host,
            timeout_seconds=5,
        )
    )
