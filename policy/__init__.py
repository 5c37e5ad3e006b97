"""releasegate's CrossGuard policy pack: the release rules the runbooks ask for, as policies
(`rules.py` holds them as pure functions; `__main__.py` is the pack the analyzer loads)."""
