# One image per service: docker build --build-arg SERVICE=order -t fooddelivery/order .
FROM rust:1-bookworm AS build
ARG SERVICE
WORKDIR /src
COPY . .
RUN cargo build --release --bin ${SERVICE} --bin fdctl \
 && cp target/release/${SERVICE} /service && cp target/release/fdctl /fdctl

FROM debian:bookworm-slim
RUN useradd --uid 10001 --no-create-home app && mkdir /data && chown app /data
COPY --from=build /service /usr/local/bin/service
COPY --from=build /fdctl /usr/local/bin/fdctl
USER 10001
ENV LISTEN_ADDR=0.0.0.0:50051 DATA_DIR=/data LOG_FORMAT=json
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/service"]
