# hedgebot: one image for the bot, the exchange emulator and the market simulator.
# Build: docker build -t hedgebot:0.1.0 .   (the tag compose and deploy/k8s use; the package version)
# Run:   docker run --rm hedgebot:0.1.0 --help
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEDGEBOT_METRICS__HOST=0.0.0.0 \
    HEDGEBOT_METRICS__PORT=9108

# The package only (no dev/report extras); sources are removed once installed.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin hedgebot \
    && mkdir -p /app/config /data \
    && chown -R hedgebot:hedgebot /app /data
WORKDIR /app
USER hedgebot
VOLUME ["/data"]
EXPOSE 9108

# 200 while the last successful tick is recent (see bot/telemetry/metrics.py); 503 -> non-zero.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEDGEBOT_METRICS__PORT', '9108'), timeout=4)"]

ENTRYPOINT ["hedgebot"]
CMD ["--help"]
