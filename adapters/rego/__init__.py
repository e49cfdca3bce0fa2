"""rego."""
