"""Organizations: policy profiles from playbooks/organizations, and their database rows."""
