# syntax=docker/dockerfile:1
#
# OpenClaw image: one image for every process.
#   docker build -t openclaw .
#   docker run --rm openclaw web | worker | migrate | <any command>
# See docker-compose.yml for the full stack and README.md for the set-up.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: compile every dependency into a wheel -------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# A compiler only for the rare dependency without a wheel for this platform;
# none of it reaches the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /build
# requirements.lock pins every package with its hashes (scripts/lock.sh): pip refuses any
# download whose hash differs, so only what was locked reaches /wheels.
COPY requirements.lock .
RUN pip wheel --require-hashes --wheel-dir /wheels -r requirements.lock

# --- runtime ---------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    OPENCLAW_CONFIG=/app/config/openclaw.yaml

# openssh-client: ssh-keygen / ssh-keyscan for managing keys and known_hosts
# (paramiko itself needs no binary); tini: reaps children and forwards signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 openclaw \
 && useradd --system --uid 10001 --gid openclaw --home-dir /home/openclaw \
        --create-home --shell /usr/sbin/nologin openclaw \
 && install -d -o openclaw -g openclaw -m 0750 /etc/openclaw /etc/openclaw/ssh

# Install from the wheels without copying them into a layer of this image. They were
# hash-checked against the lock when the build stage fetched them (a wheel built there from a
# source archive has a hash of its own), so install exactly those files, and check the set.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --no-deps /wheels/*.whl \
 && pip check

WORKDIR /app
# Code stays owned by root (read-only for the service user); only instance/ is writable.
COPY . /app
RUN chmod 0755 /app/scripts/entrypoint.sh \
 && python -m compileall -q /app/app /app/migrations \
 && install -d -o openclaw -g openclaw -m 0750 /app/instance

USER 10001:10001

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/scripts/healthcheck.py"]

ENTRYPOINT ["/usr/bin/tini", "--", "/app/scripts/entrypoint.sh"]
CMD ["web"]
