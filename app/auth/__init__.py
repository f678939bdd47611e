"""People, roles per organization, login and API tokens."""
