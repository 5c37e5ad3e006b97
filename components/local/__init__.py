"""The local target: a Docker engine (Docker itself, or podman's Docker-compatible API).

`docker_client`, `docker_migration`, `docker_snapshot` and `docker_platform` are the Docker API
backends the cloud-agnostic gates in `components.gates` reach through
`components.gates.backends`; the other modules are pulumi-docker components. Modules here keep
no import-time side effects (no module-level clients): the dynamic-provider process imports them.
"""
