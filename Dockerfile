# The myaas controller, to run next to dockerd (runtime docker, storage btrfs).
# Build: docker build -t myaas .     Run: see docker-compose.example.yml and README.md.
# The test suite builds and runs this file as it is (test/e2e/controller-image.test.ts).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY controller ./controller
COPY ui ./ui
# The controller, then the web UI it serves at /ui/ (dist/ui), then the dev dependencies go.
RUN npx tsc -p tsconfig.build.json \
  && npx vite build --config ui/vite.config.ts \
  && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
# btrfs-progs for subvolume snapshots, e2fsprogs for chattr (+C on new volumes); the database clients
# are not needed (imports run inside the servers' containers).
RUN apt-get update \
  && apt-get install -y --no-install-recommends btrfs-progs e2fsprogs \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY crds-examples ./crds-examples
ENV MYAAS_RUNTIME=docker MYAAS_STORAGE=btrfs MYAAS_LISTEN=0.0.0.0:5001
EXPOSE 5001
ENTRYPOINT ["node", "/app/dist/controller/main.js"]
CMD ["controller"]
