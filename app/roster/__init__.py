"""The roster file: people, roles, deputies, rotas, chains and webhooks of a body, imported at once."""
