"""Forms: schema, loading from YAML and validating answers (pure; no I/O, no HTML)."""
