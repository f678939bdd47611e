"""The tick: the one runner that calls each domain's due job, its scheduler and `flask ticker`."""
