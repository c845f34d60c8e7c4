# The four plugins and kubectl in a distroless image, run as a non-root user.
# Build: docker build -t ghcr.io/opsagent/opsagent .   (the image workflow pushes it)

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY bins bins
COPY shared shared
COPY tests tests
RUN cargo build --release --locked \
        -p kubectl-ai-analyze -p kubectl-ai-audit -p kubectl-ai-gen -p kubectl-ai-exec

FROM debian:bookworm-slim AS kubectl
ARG KUBECTL_VERSION=v1.32.0
ARG TARGETARCH=amd64
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
 && curl -fsSLo /kubectl "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl" \
 && chmod 0755 /kubectl

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/kubectl-ai-analyze /src/target/release/kubectl-ai-audit \
     /src/target/release/kubectl-ai-gen /src/target/release/kubectl-ai-exec /usr/local/bin/
COPY --from=kubectl /kubectl /usr/local/bin/kubectl
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/kubectl-ai-analyze"]
CMD ["-A"]
