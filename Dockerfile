# The one image every Trellis component runs: `trellis controller`, `trellis webhook serve|certs`, and the
# `trellis-exec init|wait` programs inside each step's pod. Non-root (uid/gid 10001, as the Helm chart's
# podSecurityContext expects), no shell needed at run time, read-only root filesystem friendly.
#   docker build -t ghcr.io/trellis-workflows/trellis:0.1.0 .

FROM python:3.12-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY webhook ./webhook
COPY executor ./executor
RUN pip wheel --wheel-dir /wheels .

FROM python:3.12-slim
LABEL org.opencontainers.image.title="trellis" \
      org.opencontainers.image.description="Argo Workflows manifests run as Kubernetes Jobs: controller, webhook, step programs" \
      org.opencontainers.image.source="https://github.com/trellis-workflows/trellis" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# git: the init container fetches Git input artifacts with it (executor/artifacts/drivers.py GitDriver)
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 trellis \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin trellis
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["trellis"]
CMD ["--help"]
