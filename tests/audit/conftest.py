import pytest


@pytest.fixture
def auditor(factory):
    """An auditor's token: may verify the audit log."""
    return factory.headers(factory.user({"ageo": ["auditor"]}))
