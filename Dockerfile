# The action's image: scar-ci, udocker and udocker's engines (what goes into the supervisor
# layer), so a run downloads nothing. Base pinned by tag: its digest could not be resolved
# where this was written (no registry access); pin it with
#   docker buildx imagetools inspect python:3.12.7-slim-bookworm
ARG PYTHON_IMAGE=python:3.12.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scar_ci ./scar_ci
RUN python -m venv /opt/scar-ci \
    && /opt/scar-ci/bin/pip install --no-cache-dir . udocker==1.3.17

# udocker's engines (static proot, fakechroot, patchelf) for the functions on Lambda.
# Set UDOCKER_ENGINES_SHA256 to the tarball's digest to have it checked.
FROM ${PYTHON_IMAGE} AS engines
ARG UDOCKER_ENGINES_URL=https://raw.githubusercontent.com/jorge-lip/udocker-builds/master/tarballs/udocker-englib-1.2.11.tar.gz
ARG UDOCKER_ENGINES_SHA256=""
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "${UDOCKER_ENGINES_URL}" /tmp/englib.tar.gz \
    && if [ -n "${UDOCKER_ENGINES_SHA256}" ]; then \
        echo "${UDOCKER_ENGINES_SHA256}  /tmp/englib.tar.gz" | sha256sum -c -; \
    fi \
    && mkdir -p /opt/udocker-engines \
    && tar -xzf /tmp/englib.tar.gz -C /opt/udocker-engines --strip-components=1 \
    && test -d /opt/udocker-engines/bin

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/scar-ci /opt/scar-ci
COPY --from=engines /opt/udocker-engines /opt/udocker-engines
COPY entrypoint.py /opt/scar-ci/entrypoint.py
ENV PATH=/opt/scar-ci/bin:${PATH} \
    SCAR_UDOCKER_ENGINE_DIR=/opt/udocker-engines \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# uid 1001 is the runner user of GitHub-hosted runners: the workspace and the file-command
# files it mounts are writable by it, without running as root.
RUN useradd --uid 1001 --no-create-home --shell /usr/sbin/nologin scar
USER 1001
ENTRYPOINT ["/opt/scar-ci/bin/python", "/opt/scar-ci/entrypoint.py"]
