"""The inbox: server-rendered pages with a little plain JavaScript, live over SSE."""
