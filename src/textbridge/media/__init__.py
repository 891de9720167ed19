"""Inbound media: optional download to local storage, guarded against internal addresses."""
