# syntax=docker/dockerfile:1
# Flowyard's one image: the platform API with the builder UI built in, the dispatcher, the Flowyard worker and the
# `flowyard` CLI (the manifests in k8s/ run it as flowyard:<version>). Build it from the repository root:
#   docker build -t flowyard:0.1.0 .
# Base images are pinned to exact versions; bump them on purpose (docs/kubernetes.md).

# 1. The builder UI (platform_api/ui): static files in /ui/dist.
FROM node:20.20.2-bookworm-slim AS ui
WORKDIR /ui
COPY platform_api/ui/package.json platform_api/ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY platform_api/ui/ ./
RUN npm run build

# 2. Python: the dependencies pinned in pyproject.toml in a venv, and Flowyard's source under /app, installed
# editable: the help pages (docs/), the catalog's templates and the UI are read from beside the code.
FROM python:3.11.14-slim-bookworm AS python
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core/ core/
COPY store/ store/
COPY crm/ crm/
COPY blocks/ blocks/
COPY notifications/ notifications/
COPY flow_factory/ flow_factory/
COPY engine/ engine/
COPY catalog/ catalog/
COPY platform_api/ platform_api/
COPY flowyard/ flowyard/
COPY docs/ docs/
RUN rm -rf platform_api/ui \
    && /opt/venv/bin/pip install --editable . \
    && /opt/venv/bin/python -m compileall -q /app

# 3. The help site (mkdocs.yml, docs/): built from the code installed above, served by the API at /help/. MkDocs
# stays out of the runtime image; the site needs no network to build or to view.
FROM python AS help
COPY mkdocs.yml ./
RUN /opt/venv/bin/pip install --editable '.[docs]' \
    && NO_MKDOCS_2_WARNING=1 /opt/venv/bin/mkdocs build --strict --quiet --site-dir /help

# 4. Runtime: slim, no compilers, no node, not root. glibc malloc as `flowyard up` tunes it for its children
# (flowyard.up.MALLOC_ENV): two arenas, fixed thresholds, so freed memory goes back (bench/README.md, Soak).
FROM python:3.11.14-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    PREFECT_HOME=/tmp/prefect \
    FLOWYARD_HOME=/tmp/flowyard \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=131072
COPY --from=python /opt/venv /opt/venv
COPY --from=python /app /app
COPY --from=ui /ui/dist /app/platform_api/ui/dist
COPY --from=help /help /app/build/help
WORKDIR /app
# The uid the manifests' securityContext names (runAsUser 10001); the image needs no user entry for it.
USER 10001:10001
EXPOSE 8000
# Idle connections kept 75 s, above a proxy's idle timeout (FLOWYARD_API__KEEP_ALIVE_SECONDS for `flowyard up`).
CMD ["uvicorn", "platform_api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--timeout-keep-alive", "75"]
