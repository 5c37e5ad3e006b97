"""releasegate's program: config validation, the release graph, and the command line."""
