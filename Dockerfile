# syntax=docker/dockerfile:1
#
# The dsr binary in a distroless image: `docker build -t dsr .`
#
#   docker run --rm dsr migrate   (needs DATABASE_URL)
#   docker run dsr                (serve; needs DATABASE_URL, TEMPORAL_ADDRESS,
#                                  DSR_PAYLOAD_KEYS, DSR_API_TOKENS)
#
# docker-compose.yml runs it with everything it needs.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
# Dependencies first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /dsr ./cmd/dsr

# Static binary, no shell, runs as an unprivileged user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /dsr /dsr
USER nonroot:nonroot
# In a container the API must listen on every interface to be reachable
# through a published port; the binary's own default is 127.0.0.1:8080.
ENV DSR_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/dsr"]
CMD ["serve"]
