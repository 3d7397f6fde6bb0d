# syntax=docker/dockerfile:1
# Build stage: build a wheel of the service alone (its dependencies come from the lock).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cpl_service ./cpl_service
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Runtime stage: the hash-pinned runtime lock, the service's wheel, a non-root user, the data
# directory as a volume.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 cpl \
 && mkdir /data && chown cpl:cpl /data
COPY requirements/lock.txt /tmp/lock.txt
RUN pip install --no-cache-dir -r /tmp/lock.txt && rm /tmp/lock.txt
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/* && rm -rf /wheels
USER cpl
WORKDIR /data
ENV CPL_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["cpl-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
