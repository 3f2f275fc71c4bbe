"""Test settings: the environment-driven settings with fast hashing and eager tasks."""

from config.settings import *  # noqa: F403

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
