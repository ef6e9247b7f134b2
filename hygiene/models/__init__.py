from .findings import (
    Finding,
    FindingCategory,
    FindingSighting,
    FindingStatus,
    Resolution,
    Validity,
)
from .secrets import (
    EventReference,
    ReferenceKind,
    RotationEvent,
    Secret,
    SecretReference,
    SecretSighting,
)
from .sources import ImportRun, ImportStatus, Source, SourceKind, SourceToken, UserToken
from .staging import StagedFinding, StagedReference
from .teams import OwnershipRule, Team

__all__ = [
    "EventReference",
    "Finding",
    "FindingCategory",
    "FindingSighting",
    "FindingStatus",
    "ImportRun",
    "ImportStatus",
    "OwnershipRule",
    "ReferenceKind",
    "Resolution",
    "RotationEvent",
    "Secret",
    "SecretReference",
    "SecretSighting",
    "Source",
    "SourceKind",
    "SourceToken",
    "StagedFinding",
    "StagedReference",
    "Team",
    "UserToken",
    "Validity",
]
