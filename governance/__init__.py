"""Governance Proxy: consented, policy-checked, masked and audited access to personal data."""
