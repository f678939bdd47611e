"""Incidents: classification, severity, references, listing."""
