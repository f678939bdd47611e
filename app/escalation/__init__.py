"""Escalation to the responsible officers: chains per severity, escalations and their steps, acknowledgement."""
