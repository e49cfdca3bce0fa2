"""Audit tables: hash-chained events, one chain per writer, each chain's head, and
the subject index of events about many subjects.

Events are only ever inserted. A chain's head row is updated in the same
transaction as the events it covers, so a truncated tail shows as a mismatch.
An audience query releases records of many subjects in one event; its detail
lists their references (hashed, so under the chain) and `audit_subjects` indexes
them, written in the same transaction, so "who read this subject's data" is one
indexed lookup for queries as for single reads.

A policy decision is stored once per distinct shape (`decision_shapes`: revision,
input, result) and named by each event it decided (`decision_shape`); the
writer inserts a shape, if absent, with the first event that names it.

Sealing (`audit.seal`) appends committed events to one Merkle tree shared by
every chain: `audit_leaves` gives each sealed event its leaf index and keeps its
row hash (the leaf's data, so a purge of old event content leaves the tree
whole), `audit_nodes` keeps the hashes of complete subtrees from level
`NODE_LEVEL` up (proofs read them instead of re-hashing millions of leaves), and
`audit_checkpoints` the signed tree heads, numbered from 1. All three are only
ever appended to, in one transaction per checkpoint.
"""

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

MAX_STORED_INT = 2**31 - 1
"""The largest checkpoint number, tree size or leaf index the columns hold
(`INTEGER`: four bytes on PostgreSQL): a larger one in a query is refused
before it reaches the store, which would fail on it."""


class AuditEventRow(SQLModel, table=True):
    """One audited access or consent change, as stored; JSON columns hold canonical text."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_subject_ts", "subject_ref", "ts"),
        Index("ix_audit_caller_ts", "caller", "ts"),
        Index("ix_audit_ts", "ts"),
    )

    chain_id: str = Field(primary_key=True, max_length=32)
    seq: int = Field(primary_key=True)
    event_id: str = Field(unique=True, max_length=36)
    ts: str = Field(max_length=32, description="UTC, ISO 8601 with microseconds and Z.")
    kind: str = Field(max_length=32)
    caller: str | None = Field(default=None, max_length=64)
    purpose: str | None = Field(default=None, max_length=64)
    dataset: str | None = Field(default=None, max_length=64)
    subject_ref: str | None = Field(default=None, max_length=64)
    fields: str = Field(default="[]")
    obligations: str = Field(default="{}")
    outcome: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=64)
    decision_id: str | None = Field(default=None, max_length=36)
    policy_revision: str | None = Field(default=None, max_length=80)
    decision_shape: str | None = Field(default=None, max_length=32)
    detail: str = Field(default="{}")
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChain(SQLModel, table=True):
    """A writer's chain: where it started and its committed head."""

    __tablename__ = "audit_chains"

    chain_id: str = Field(primary_key=True, max_length=32)
    writer: str = Field(max_length=128)
    started_at: str = Field(max_length=32)
    head_seq: int = 0
    head_hash: str = Field(max_length=64)


class AuditSubjectRow(SQLModel, table=True):
    """One subject of a multi-subject event: (subject, when, which event)."""

    __tablename__ = "audit_subjects"
    # By event: retention unindexes a purged event, verify compares each event's
    # rows with the subjects its detail lists.
    __table_args__ = (Index("ix_audit_subjects_event", "chain_id", "seq"),)

    subject_ref: str = Field(primary_key=True, max_length=64)
    ts: str = Field(primary_key=True, max_length=32)
    chain_id: str = Field(primary_key=True, max_length=32)
    seq: int = Field(primary_key=True)


class DecisionShapeRow(SQLModel, table=True):
    """One distinct policy decision: the bundle revision, its input and its result."""

    __tablename__ = "decision_shapes"

    shape_id: str = Field(primary_key=True, max_length=32)
    revision: str = Field(max_length=80)
    input: str = Field(description="The policy input, canonical JSON (facts only).")
    result: str = Field(description="The decision, canonical JSON.")


class AuditPurgeRow(SQLModel, table=True):
    """One retention batch: what it tombstoned, signed (see audit/purges.py)."""

    __tablename__ = "audit_purges"

    purge_id: str = Field(primary_key=True, max_length=32)
    purged_at: str = Field(max_length=32)
    cutoffs: str = Field(description="The retention periods in force, canonical JSON.")
    events: int
    digest: str = Field(max_length=64)
    key_id: str = Field(max_length=32)
    signature: str = Field(max_length=128)


class AuditLeafRow(SQLModel, table=True):
    """One sealed event: its place in the Merkle tree and its row hash."""

    __tablename__ = "audit_leaves"
    __table_args__ = (UniqueConstraint("chain_id", "seq", name="uq_audit_leaf_event"),)

    leaf_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    chain_id: str = Field(max_length=32)
    seq: int
    hash: str = Field(max_length=64, description="The event's row hash, hex.")


class AuditNodeRow(SQLModel, table=True):
    """The hash of one complete subtree: leaves [idx·2^level, (idx+1)·2^level)."""

    __tablename__ = "audit_nodes"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    idx: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: str = Field(max_length=64)


class AuditCheckpointRow(SQLModel, table=True):
    """One signed checkpoint; `body` is the signed part, as canonical JSON text."""

    __tablename__ = "audit_checkpoints"

    number: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    tree_size: int = Field(unique=True)
    root_hash: str = Field(max_length=64)
    sealed_at: str = Field(max_length=32)
    body: str
    key_id: str = Field(max_length=40)
    signature: str = Field(max_length=128)
