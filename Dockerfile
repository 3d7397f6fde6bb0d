# syntax=docker/dockerfile:1
# Build stage: build a wheel of the service and its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cpl_service ./cpl_service
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

# Runtime stage: only the wheels, a non-root user, the data directory as a volume.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 cpl \
 && mkdir /data && chown cpl:cpl /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
USER cpl
WORKDIR /data
ENV CPL_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["cpl-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
