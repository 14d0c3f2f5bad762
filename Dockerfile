# The demo application: a Nest app with the queue, its processors, HTTP API and health probes.
# Needs DATABASE_URL (see docker-compose.yml); the embedded PostgreSQL is a development aid only.

FROM node:20.20-bookworm-slim AS build
WORKDIR /app
# .npmrc preloads tsx for npm scripts (npm run build below); npm ci installs it first.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

FROM node:20.20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
ENV PORT=3000
EXPOSE 3000
# node directly, not npm start: npm does not pass SIGTERM on, and the workers drain on SIGTERM.
CMD ["node", "dist/src/main.js"]
