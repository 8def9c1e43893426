# cutover for schedulers (Kubernetes, ECS, systemd-nspawn, CI): the binary, CA certificates and
# libc, run as a non-root user. See README "Running rotation on a schedule".
#
#   docker build -t cutover .
#   docker run --rm -v "$PWD:/work" -e AWS_REGION cutover rotate --all --dry-run
#
# The specs and templates are not in the image: mount the folder that holds `stacks/` at /work,
# or build your own image FROM this one with `COPY stacks templates /work/`.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin cutover

# distroless/cc: glibc, libgcc, CA certificates and tzdata, nothing else; user 65532 (nonroot).
# It has no shell: a `[gates] command` needs one, so for those use debian:bookworm-slim with
# ca-certificates instead.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/cutover /usr/local/bin/cutover
WORKDIR /work
USER nonroot
ENTRYPOINT ["/usr/local/bin/cutover"]
CMD ["rotate", "--all", "--dry-run"]
