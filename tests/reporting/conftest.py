import pytest

from tests.reporting.factories import make_desk


@pytest.fixture(autouse=True)
def report_files(settings, tmp_path):
    """Generated files go to a temporary folder, never to var/."""
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.CAT_REPORTER_IMID = "TESTIMID"
    return settings.MEDIA_ROOT


@pytest.fixture
def desk(db):
    return make_desk()
