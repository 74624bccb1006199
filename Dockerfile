# c9fs image: c9fs-serve, c9fs-mount and the demo programs. Multi-stage:
#   build   the jars: built with Maven (JARS=maven, the default; BUILD_IMAGE is a Maven+JDK 17
#           image, or a plain Debian 12 base, in which case Maven and the JDK come from Debian),
#           or taken from dist/ in the build context (JARS=context: jars built on the host)
#   cbuild  the C demo and seed programs, compiled with gcc on the runtime base
#   runtime BASE_IMAGE + a JRE 17 + fuse3 + the jars, bin/ and scripts/ (no compiler)
# Public images:  docker build -t c9fs .
# No registry:    docker build --build-arg BUILD_IMAGE=local/debian:bookworm \
#                              --build-arg BASE_IMAGE=local/debian:bookworm -t c9fs .
# JARS=context exists because Maven in a container cannot always reach Central (on the
# project's build machine the TLS certificate does not verify inside containers):
# scripts/docker-demo builds the jars on the host and passes them in dist/.
# Running a mount needs: --device /dev/fuse --cap-add SYS_ADMIN (see docker-compose.yml).
ARG BUILD_IMAGE=maven:3-eclipse-temurin-17
ARG BASE_IMAGE=debian:bookworm-slim
ARG JARS=maven

FROM ${BUILD_IMAGE} AS build
ARG JARS
# A no-op on the Maven image and with JARS=context; on plain Debian it installs the toolchain.
RUN if [ "$JARS" = maven ] && ! { command -v mvn && command -v javac; } >/dev/null; then \
        apt-get update -qq && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            maven openjdk-17-jdk-headless >/dev/null && \
        rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
# The poms alone first: this layer downloads every plugin and dependency and stays cached
# until a pom changes, so a source change costs a compile, not a download.
COPY pom.xml ./
COPY transport/pom.xml transport/
COPY server/pom.xml server/
COPY cache/pom.xml cache/
COPY fuse-mount/pom.xml fuse-mount/
RUN if [ "$JARS" = maven ]; then mvn -B -q -ntp -DskipTests package >/dev/null 2>&1 || true; fi
COPY transport/src transport/src
COPY server/src server/src
COPY cache/src cache/src
COPY fuse-mount/src fuse-mount/src
# "dist*" matches nothing unless the context has dist/: then only pom.xml lands in /src/dist.
COPY pom.xml dist* /src/dist/
RUN mkdir /jars && \
    if [ "$JARS" = maven ]; then \
        mvn -B -q -ntp -DskipTests package && \
        cp server/target/c9fs-serve.jar fuse-mount/target/c9fs-mount.jar /jars/; \
    else \
        cp dist/c9fs-serve.jar dist/c9fs-mount.jar /jars/; \
    fi

FROM ${BASE_IMAGE} AS cbuild
RUN apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null && \
    rm -rf /var/lib/apt/lists/*
COPY scripts/c /src/c
COPY scripts/demo/c9demo.c /src/demo/
RUN mkdir /out && \
    for p in c/coh c/seed-pwrite-read c/seed-mmap-memmove demo/c9demo; do \
        gcc -std=c99 -O2 -Wall -Wextra -o /out/$(basename $p) /src/$p.c || exit 1; \
    done

FROM ${BASE_IMAGE} AS runtime
# man pages are not installed in slim images, and the JRE's postinst wants their folder.
RUN mkdir -p /usr/share/man/man1 && apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        openjdk-17-jre-headless fuse3 >/dev/null && \
    rm -rf /var/lib/apt/lists/*
COPY bin/ /opt/c9fs/bin/
COPY --from=build /jars/ /opt/c9fs/bin/
COPY scripts/ /opt/c9fs/scripts/
COPY --from=cbuild /out/ /opt/c9fs/scripts/bin/
ENV PATH=/opt/c9fs/bin:/opt/c9fs/scripts/bin:$PATH
WORKDIR /opt/c9fs
CMD ["c9fs-serve", "--help"]
