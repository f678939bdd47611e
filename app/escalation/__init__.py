"""Escalation to the responsible officers: policies, on-call, the outbox and the ticker."""
