"""Tables and reports for people (and --json for scripts)."""
