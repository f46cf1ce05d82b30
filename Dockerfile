# The gateway as a container: built once to plain JavaScript, run by `node dist/main.js` as a
# non-root user. Server mode (DATABASE_URL, REDIS_URL) is what it is for; see compose.yaml.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so a change to the sources does not reinstall them. `npm ci` runs
# `prisma generate` (postinstall), which writes the client into src/generated.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 DATA_DIR=/data
WORKDIR /app
# package.json marks the project root (migrations are found from it); prisma/ holds the migrations.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/dist ./dist
# Embedded mode's data folder, for a single container without DATABASE_URL.
RUN mkdir /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 4000
# /ready: 200 once started (demo tenant included) and the database answers; Redis down is "degraded", still 200.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 and gets SIGTERM from `docker stop` (no npm, no shell in between).
CMD ["node", "--max-semi-space-size=8", "dist/main.js"]
