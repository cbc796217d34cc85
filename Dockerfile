# syntax=docker/dockerfile:1
# Build: compile with the dev toolchain, then keep production dependencies only.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY client ./client
COPY src ./src
COPY migrations ./migrations
# The embedded PostgreSQL (~60 MB, an optional dependency) is for `npm start` on a laptop, not here.
RUN npm run build && npm prune --omit=dev --omit=optional

# Run: the built app, as the unprivileged `node` user, against DATABASE_URL.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY docs/asyncapi.yaml ./docs/asyncapi.yaml
RUN chown node:node /app
USER node
EXPOSE 3000
# Node itself is the container's main process, so SIGTERM (docker stop) reaches the app and it
# shuts down gracefully (npm would keep the signal). Set DATABASE_URL; HOST is then 0.0.0.0.
CMD ["node", "dist/src/main.js"]
