"""API keys (bearer) and inbox sessions (a signed cookie obtained with an API key)."""
