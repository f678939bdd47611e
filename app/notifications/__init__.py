"""Reaching people: who is on call (rotations, overrides, deputies), the outbox, and delivery by e-mail and webhook."""
