"""Fixtures of the witness tests: a test key, a witness directory, a witnessed trail."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from apps.audit import signing
from apps.audit.events import EventType
from apps.audit.selectors import audit_verify
from apps.audit.services import audit_record, checkpoint_create


def seed_of(key: Ed25519PrivateKey) -> str:
    from tests.audit.test_witness import _seed

    return _seed(key)


@pytest.fixture
def platform_key(settings):
    key = Ed25519PrivateKey.generate()
    settings.AUDIT_SIGNING_KEY = seed_of(key)
    signing.private_key.cache_clear()
    yield key
    signing.private_key.cache_clear()


@pytest.fixture
def witness_dir(settings, tmp_path):
    path = tmp_path / "witness"
    path.mkdir()
    settings.AUDIT_WITNESS_DIR = str(path)
    return path


@pytest.fixture
def checkpoint(django_capture_on_commit_callbacks):
    """Sign a checkpoint and run what follows its commit (the witness append)."""

    def make():
        with django_capture_on_commit_callbacks(execute=True):
            return checkpoint_create()

    return make


@pytest.fixture
def trail(db, platform_key, witness_dir, checkpoint):
    """Events 1..15, checkpoints at 5, 10 and 15, all witnessed."""
    for n in range(15):
        audit_record(event_type=EventType.CONFIG_CHANGED, actor="t", payload={"n": n})
        if n % 5 == 4:
            checkpoint()
    assert audit_verify().ok
    return witness_dir
