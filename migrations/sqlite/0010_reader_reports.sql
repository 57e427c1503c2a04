-- Readers' "I'm affected" reports on a component or an open incident.
-- A counted report keeps only what and when: nothing about the reader.
-- Rows older than 30 days are deleted as new reports arrive.
CREATE TABLE reader_reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    reported_at  BIGINT NOT NULL
);
CREATE INDEX reader_reports_by_subject ON reader_reports (subject_kind, subject_id, reported_at);
CREATE INDEX reader_reports_by_time ON reader_reports (reported_at);

-- One counted report per reader and subject an hour: the reader is a keyed
-- hash of their address (never the address), kept for that hour only.
CREATE TABLE reader_limits (
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    reader       TEXT NOT NULL,
    counted_at   BIGINT NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, reader)
);
CREATE INDEX reader_limits_by_time ON reader_limits (counted_at);

-- When staff were last mailed about reports on a component Candor shows as
-- working: at most once an hour.
CREATE TABLE reader_report_mails (
    component_id TEXT PRIMARY KEY,
    mailed_at    BIGINT NOT NULL
);
