"""The key that signs what the audit trail hands out: checkpoints and export manifests."""

from governance.signing import Signer


class AuditSigner(Signer):
    """Signs with the key file's `audit_signing` key (Ed25519)."""

    KEY_NAME = "audit_signing"
