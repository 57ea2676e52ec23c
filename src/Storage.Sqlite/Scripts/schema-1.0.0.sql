-- Schema 1.0.0 of the Kata Workflows SQLite store. A published script never changes: later versions add
-- schema-x.y.z.sql files. Times are UTC ticks (100 ns since 0001-01-01). There are no foreign keys: every
-- consistency rule is kept by the single-transaction batches of the writer.

-- One row per orchestration instance: its current execution and status. Payload columns are wide, so the
-- table keeps its rowid (WITHOUT ROWID suits small rows only).
CREATE TABLE Instances (
    InstanceId       TEXT    NOT NULL PRIMARY KEY,
    Name             TEXT    NOT NULL,
    Version          TEXT    NULL,
    ExecutionId      TEXT    NOT NULL,
    Status           INTEGER NOT NULL,
    CreatedAt        INTEGER NOT NULL,
    LastUpdatedAt    INTEGER NOT NULL,
    CompletedAt      INTEGER NULL,
    ScheduledStartAt INTEGER NULL,
    Input            TEXT    NULL,
    Output           TEXT    NULL,
    CustomStatus     TEXT    NULL,
    FailureDetails   BLOB    NULL,  -- protobuf TaskFailureDetails
    ParentInstanceId TEXT    NULL,
    Tags             TEXT    NULL,  -- JSON object; NULL when there are none
    TraceParent      TEXT    NULL
);

-- Keyset paging of queries and purges walks this index.
CREATE INDEX IX_Instances_CreatedAt ON Instances (CreatedAt, InstanceId);

-- Opening the store loads the instances that are not terminal.
CREATE INDEX IX_Instances_Status ON Instances (Status);

-- Append-only history of each execution. The primary key is the split-brain guard: two workers that ran the
-- same episode both try to write event #N, and the second insert violates it. Clustered by the key, so an
-- execution's history is one contiguous range.
CREATE TABLE History (
    InstanceId     TEXT    NOT NULL,
    ExecutionId    TEXT    NOT NULL,
    SequenceNumber INTEGER NOT NULL,
    EventType      INTEGER NOT NULL,
    Data           BLOB    NOT NULL,  -- protobuf HistoryEvent
    PRIMARY KEY (InstanceId, ExecutionId, SequenceNumber)
) WITHOUT ROWID;

-- Inbox messages of orchestrations and entities; the store-wide sequence is the FIFO order.
CREATE TABLE Messages (
    Sequence   INTEGER NOT NULL PRIMARY KEY,
    InstanceId TEXT    NOT NULL,
    VisibleAt  INTEGER NULL,
    Data       BLOB    NOT NULL  -- protobuf HistoryEvent
);

CREATE INDEX IX_Messages_InstanceId ON Messages (InstanceId);

-- Scheduled activities.
CREATE TABLE Activities (
    Sequence   INTEGER NOT NULL PRIMARY KEY,
    InstanceId TEXT    NOT NULL,
    Data       BLOB    NOT NULL  -- protobuf ActivityRequest
);

CREATE INDEX IX_Activities_InstanceId ON Activities (InstanceId);

-- Entity state and lock.
CREATE TABLE Entities (
    InstanceId        TEXT    NOT NULL PRIMARY KEY,
    State             TEXT    NULL,
    LastModifiedAt    INTEGER NOT NULL,
    LockedBy          TEXT    NULL,
    CriticalSectionId TEXT    NULL,
    LockSet           TEXT    NULL  -- JSON array of entity ids
);
