"""The audit trail's Ed25519 signer: checkpoints and export manifests."""

from governance.signing import Signer


class AuditSigner(Signer):
    """Signs with the `audit_signing` key of the key file."""

    __slots__ = ()
    KEY_NAME = "audit_signing"
