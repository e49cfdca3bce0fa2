"""The audit trail's signer: the `audit_signing` key, kept outside the database."""

from governance.signing import Signer


class AuditSigner(Signer):
    """Signs checkpoints, export manifests and purge records with `audit_signing`."""

    __slots__ = ()
    KEY_NAME = "audit_signing"
