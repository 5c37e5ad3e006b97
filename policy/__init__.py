"""releasegate's CrossGuard policy pack: the release rules (pinned images, gates, protected
data, the production hardening docs/aws.md and docs/azure.md describe), as policies
(`rules.py` holds them as pure functions; `__main__.py` is the pack the analyzer loads)."""
