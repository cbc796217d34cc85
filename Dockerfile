# syntax=docker/dockerfile:1
# Build: compile with the dev toolchain, then keep production dependencies only.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

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
# Without the Nest CLI installed, `npm start` skips the build and runs dist/src/main.js.
# Set DATABASE_URL; HOST defaults to 0.0.0.0 when it is set.
CMD ["npm", "start"]
