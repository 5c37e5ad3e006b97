"""Cloud-agnostic dynamic providers that gate a release: image pin, pre-migration snapshot,
migration run, health gate and release ledger. Target-specific work (Docker, ECS, Container
Apps) is reached through the backends registered in `components.gates.backends`."""
