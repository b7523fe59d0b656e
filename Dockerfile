# The action's image: scar-ci, udocker and udocker's engines (what goes into the supervisor
# layer), so a run downloads nothing. GitHub's rules for Docker actions: no USER (the runner
# mounts the workspace and its file-command files owned by its own uid, which only root is
# sure to write: docs/action.md), the entry point by absolute path.
# Everything pip installs is in requirements/action.txt with hashes (`make lock` refreshes it);
# udocker's engines come from a commit-pinned URL and must match their git blob id.
# The base is pinned by tag (Dependabot bumps it); a test substitutes it (PYTHON_IMAGE).
ARG PYTHON_IMAGE=python:3.12.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements/action.txt ./requirements/action.txt
RUN python -m venv /opt/scar-ci \
    && /opt/scar-ci/bin/pip install --no-cache-dir --disable-pip-version-check \
        --require-hashes --only-binary=:all: -r requirements/action.txt
COPY pyproject.toml README.md ./
COPY scar_ci ./scar_ci
# scar-ci itself: its dependencies and build backend are already there, nothing is fetched.
RUN /opt/scar-ci/bin/pip install --no-cache-dir --disable-pip-version-check \
        --no-index --no-deps --no-build-isolation . \
    && /opt/scar-ci/bin/pip check

# udocker's engines (static proot, fakechroot, patchelf) for the functions on Lambda: the
# tarball udocker 1.3.17 names, from the commit of jorge-lip/udocker-builds that holds it,
# checked against that commit's git blob id (SHA-1 of "blob <size>\0" + the bytes).
FROM ${PYTHON_IMAGE} AS engines
ARG UDOCKER_ENGINES_URL=https://raw.githubusercontent.com/jorge-lip/udocker-builds/6c15741787b8f5591e0aa44d06aab67d9370a9ce/tarballs/udocker-englib-1.2.11.tar.gz
ARG UDOCKER_ENGINES_BLOB=17f7341a84ea7b25d072fcdb48c8b68570201020
COPY scripts/fetch_verified.py /usr/local/bin/fetch_verified.py
RUN python /usr/local/bin/fetch_verified.py "${UDOCKER_ENGINES_URL}" \
        "${UDOCKER_ENGINES_BLOB}" /tmp/englib.tar.gz \
    && mkdir -p /opt/udocker-engines \
    && tar -xzf /tmp/englib.tar.gz -C /opt/udocker-engines --strip-components=1 \
    && test -d /opt/udocker-engines/bin \
    && rm /tmp/englib.tar.gz

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/scar-ci /opt/scar-ci
COPY --from=engines /opt/udocker-engines /opt/udocker-engines
COPY entrypoint.py /opt/scar-ci/entrypoint.py
ENV PATH=/opt/scar-ci/bin:${PATH} \
    SCAR_UDOCKER_ENGINE_DIR=/opt/udocker-engines \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
ENTRYPOINT ["/opt/scar-ci/bin/python", "/opt/scar-ci/entrypoint.py"]
