"""The fake Vonage Messages API: auth, validation, errors, signed callbacks."""
