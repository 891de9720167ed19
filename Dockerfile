# syntax=docker/dockerfile:1
# textbridge: one image for every role. `serve`, `serve --no-workers`, `worker` and
# `db upgrade` are its commands (deploy/compose.yaml). No secret is baked in: every setting
# comes from the environment at run time (deploy/.env.example).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Stage 1: resolve the locked dependencies and build our wheel, with uv.
FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /src
# The dependencies first, in a layer of their own: a change to our code does not fetch them again.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
    && uv venv /opt/textbridge \
    && uv pip install --python /opt/textbridge/bin/python -r /tmp/requirements.txt
COPY src ./src
# The wheel carries the migrations and the inbox's templates and static files
# (tests/deploy/test_wheel.py installs it in a fresh venv and sends through it).
RUN --mount=type=cache,target=/root/.cache/uv \
    uv build --wheel -o /tmp/dist \
    && uv pip install --python /opt/textbridge/bin/python --no-deps /tmp/dist/*.whl

# Stage 2: the runtime, without uv, compilers or the sources; a user that is not root.
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 textbridge \
    && useradd --system --uid 10001 --gid textbridge --home-dir /var/lib/textbridge \
       --create-home --shell /usr/sbin/nologin textbridge \
    # The media volume's mount point: Docker copies this owner into a new named volume (a
    # mount point it creates itself would be root's, and uploads would fail).
    && mkdir -p /var/lib/textbridge/media \
    && chown textbridge:textbridge /var/lib/textbridge/media
COPY --from=build /opt/textbridge /opt/textbridge
ENV PATH=/opt/textbridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TEXTBRIDGE_HOST=0.0.0.0 \
    TEXTBRIDGE_PORT=8000 \
    TEXTBRIDGE_MEDIA_DIR=/var/lib/textbridge/media \
    TEXTBRIDGE_LOG_FORMAT=json
USER textbridge
WORKDIR /var/lib/textbridge
EXPOSE 8000
# Liveness: `/healthz` never touches the database, so a database outage does not mark every
# replica unhealthy at once (the proxy uses `/readyz` for that). A `worker` has no HTTP:
# compose turns this check off for it and restarts it when it exits.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TEXTBRIDGE_PORT', '8000'), timeout=2)"]
ENTRYPOINT ["textbridge"]
CMD ["serve"]
