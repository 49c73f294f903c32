# syntax=docker/dockerfile:1.7
# One image per service: docker build --build-arg SERVICE=order -t fooddelivery/order .
# Bases are pinned to exact releases (add digests with your registry's tooling); the build
# uses Cargo.lock as is (--locked) and BuildKit caches for the registry and target/, so a
# change to one service rebuilds only what it touches.
FROM rust:1.95.0-slim-bookworm AS build
ARG SERVICE
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ${SERVICE} --bin fdctl \
 && cp target/release/${SERVICE} /service && cp target/release/fdctl /fdctl

# The contract gate alone, for other repositories' CI (`docker build --target contract-gate
# -t contract-gate .`; run it in the repository: `docker run --rm -v "$PWD:/repo" -w /repo
# contract-gate check proto --against-git origin/main --error-format github-actions`).
FROM rust:1.95.0-slim-bookworm AS contract-gate-build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p fd-contract-gate --bin contract-gate \
 && cp target/release/contract-gate /contract-gate

FROM debian:12.12-slim AS contract-gate
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* && git config --system --add safe.directory '*'
COPY --from=contract-gate-build /contract-gate /usr/local/bin/contract-gate
ENTRYPOINT ["/usr/local/bin/contract-gate"]

# The service image (the default target: the last stage).
FROM debian:12.12-slim
RUN useradd --uid 10001 --no-create-home app && mkdir /data && chown app /data
COPY --from=build /service /usr/local/bin/service
COPY --from=build /fdctl /usr/local/bin/fdctl
USER 10001
ENV LISTEN_ADDR=0.0.0.0:50051 DATA_DIR=/data LOG_FORMAT=json
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/service"]
