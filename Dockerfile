# syntax=docker/dockerfile:1
# Rivulet: one image for every role (RIVULET_ROLES=all | transport | rule-engine | api, comma lists too).
#   docker build -t rivulet .
#   docker run -p 8080:8080 -p 1883:1883 -p 5683:5683/udp -v rivulet-data:/data rivulet
# The build stage installs everything and runs `npm run build` (dist/server: the bundled server, the
# script sandbox's worker, the web app); the runtime stage holds only production dependencies and dist/.

FROM node:20-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build \
 # the workspace manifests, for the runtime stage's `npm ci --omit=dev` (npm links the workspaces)
 && mkdir /manifests \
 && cp package.json package-lock.json /manifests/ \
 && find apps packages -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    RIVULET_DATA_DIR=/data
WORKDIR /app
COPY --from=build /manifests/ ./
# production dependencies of the server workspace only (not the web app's: its build is in dist/server/web)
RUN npm ci --omit=dev --no-audit --no-fund --workspace @rivulet/server \
 && npm cache clean --force \
 && mkdir -p /data && chown node:node /data
COPY --from=build /app/dist/server ./dist/server
# the node image's unprivileged user (uid 1000); the embedded database and the JWT secret live in /data
USER node
VOLUME ["/data"]
# HTTP (REST, WebSocket, web app, HTTP device API), MQTT, CoAP
EXPOSE 8080 1883 5683/udp
# readiness: the database answers, the queue is connected, this process's roles have started
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.RIVULET_HTTP_PORT||8080)+'/api/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# exec form: node is PID 1 and receives SIGTERM itself (drain, then exit 0); no shell or npm in between
CMD ["node", "--max-semi-space-size=64", "--enable-source-maps", "dist/server/main.js"]
