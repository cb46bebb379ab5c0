# syntax=docker/dockerfile:1
# Images of the task executor, the controller and the CLI, from one build stage:
#   docker build --target executor   -t task-executor:0.1.0 .
#   docker build --target controller -t task-controller:0.1.0 .
#   docker build --target cli        -t taskctl:0.1.0 .
# Without a Docker engine: scripts/build-images.sh (buildah).
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
# gcc for the task shim (packages/runtime-process/shim); tini for the executor image.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev tini \
 && rm -rf /var/lib/apt/lists/*
ENV CI=true TURBO_TELEMETRY_DISABLED=1 PNPM_HOME=/pnpm PATH=/pnpm:$PATH
# Set only where the registry is reached through a TLS-intercepting proxy: a CA bundle file the build mounts.
ARG NODE_EXTRA_CA_CERTS
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
RUN npm install -g "pnpm@$(node -p "require('./package.json').packageManager.split('@')[1]")" >/dev/null \
 && pnpm config set store-dir /pnpm/store
# Only the lockfile decides what is downloaded: this layer survives source changes.
RUN pnpm fetch
COPY . .
RUN pnpm install --offline --frozen-lockfile \
 && pnpm exec turbo run build --filter=@org/executor... --filter=@org/controller... --filter=@org/cli... \
 && test -x packages/runtime-process/dist/task-shim
# Each app with its production dependencies only. The root's own dependencies (the three apps, for
# `pnpm exec` at the repository root) would put all apps into every image, so they are left out here.
RUN node -e "const fs=require('fs');const p=JSON.parse(fs.readFileSync('package.json'));delete p.dependencies;fs.writeFileSync('package.json',JSON.stringify(p))" \
 && for app in executor controller cli; do \
      pnpm --filter="@org/$app" deploy --prod --legacy --prefer-offline "/out/$app" >/tmp/deploy.log 2>&1 \
      || { cat /tmp/deploy.log; exit 1; }; \
    done \
 && rm -rf /out/*/node_modules/.pnpm/@types+* \
 && test -x /out/executor/node_modules/@org/runtime-process/dist/task-shim

# taskctl: drives an executor or the cluster's Task resources.
FROM ${BASE_IMAGE} AS cli
ENV NODE_ENV=production
COPY --from=build /out/cli /app
USER 1000:1000
ENTRYPOINT ["node", "/app/bin/taskctl.js"]
CMD ["--help"]

# task-controller: no child processes, so node itself is PID 1 (it handles SIGTERM); non-root.
FROM ${BASE_IMAGE} AS controller
ENV NODE_ENV=production
COPY --from=build /out/controller /app
USER 1000:1000
EXPOSE 8080 8081
ENTRYPOINT ["node", "/app/bin/task-controller.js"]

# task-executor: tini as PID 1 reaps orphaned task processes when the executor is a pod's main container (and
# as a subreaper when it is not PID 1). Non-root by default, which process mode allows; sidecar mode (setns into
# another container) and container mode (the CRI socket) need root, which their manifests set (runAsUser: 0).
# nsenter and unshare (util-linux, 2.38 in bookworm) come with the base image.
FROM ${BASE_IMAGE} AS executor
ENV NODE_ENV=production TINI_SUBREAPER=1
COPY --from=build /usr/bin/tini-static /usr/bin/tini
COPY --from=build /out/executor /app
RUN mkdir -p /var/lib/sandbox/tasks && chown 1000:1000 /var/lib/sandbox/tasks
USER 1000:1000
EXPOSE 5758
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/task-executor.js"]
