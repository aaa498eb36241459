# Build stage: compile TypeScript with the dev dependencies.
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY fhir-profiles ./fhir-profiles
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and compiled code only, as a non-root user.
FROM node:22-slim
# NODE_OPTIONS caps the JavaScript heap and its young generation, MALLOC_ARENA_MAX glibc's malloc
# arenas, and MALLOC_TRIM_THRESHOLD_ fixes the free memory glibc keeps at the top of an arena, as
# `npm start` does (see the README's memory notes).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=4" \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    HOST=0.0.0.0 \
    PORT=8103 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/fhir-profiles ./fhir-profiles
COPY --from=build /app/src/invite/templates ./src/invite/templates
COPY --from=build /app/src/pages/assets ./src/pages/assets
RUN groupadd -r fhir && useradd -r -g fhir fhir && mkdir -p /data && chown -R fhir:fhir /data
USER fhir
EXPOSE 8103
# Without MONGODB_URI the in-memory development engine starts; set it for real use.
CMD ["node", "dist/server.js"]
