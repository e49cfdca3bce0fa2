"""opa: the OPA-sidecar policy engine, asked over OPA's Data API."""
