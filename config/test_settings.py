"""Test settings: the environment-driven settings with fast hashing and eager tasks."""

import atexit
import os
import shutil
import tempfile

# Metrics of this test run only, in a folder of its own (read by apps.core.metrics at import).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-test-")
atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
LOGGING["loggers"]["django"]["level"] = "ERROR"  # noqa: F405
# A fixed, test-only checkpoint signing key (tests run with DEBUG off, which needs one).
AUDIT_SIGNING_KEY = "dGVzdC1vbmx5LWF1ZGl0LXNpZ25pbmcta2V5LTMyYiE="
# No second factor unless a test asks for one (settings.MFA_REQUIRED_ROLES in tests/rbac).
MFA_REQUIRED_ROLES: list[str] = []
# A test-only firm LEI (synthetic, valid ISO 17442 check digits).
REPORTING_FIRM_LEI = "TEST00FIRMTEST000024"
# The ESMA schemas live beside the repository: a file is validated whenever they are there, and
# a clone without them still runs the suite (tests that need them say so).
MIFIR_SCHEMA_REQUIRED = False
# The writer drains the audit sequencer itself after its commit, so that a test that commits for
# real finds its events placed when the commit returns (tests/audit/test_sequencer_thread.py
# turns the drain thread on).
AUDIT_SEQUENCER_THREAD = False
