# The Fynlo server. Build: docker build -t fynlo .   Run: see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the package (not editable), then drop the sources.
COPY . /tmp/src
RUN pip install /tmp/src && rm -rf /tmp/src

# Run as an unprivileged user; var/ holds only what the server writes (never the database:
# in this image FYNLO_DATABASE_URL must name a server).
RUN useradd --system --create-home --home-dir /home/fynlo --uid 10001 --user-group fynlo \
    && mkdir -p /app/var && chown fynlo:fynlo /app/var
WORKDIR /app
USER fynlo

ENV FYNLO_HOST=0.0.0.0 \
    FYNLO_PORT=8000 \
    FYNLO_VAR_DIR=/app/var
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('FYNLO_PORT', '8000')}/readyz\", timeout=2)"]

CMD ["sh", "-c", "fynlo migrate && exec fynlo serve --host 0.0.0.0"]
