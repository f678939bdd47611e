"""Shared pieces every domain uses: database base, types, time, errors, Markdown, permissions."""
