"""Health gate: counting rules with a fake clock, the provider against a misbehaving app."""
