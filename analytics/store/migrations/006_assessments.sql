-- Joint assessments (analytics/assessments.py, docs/assessments.md).
-- Every save is a new immutable row in assessment_versions (with its judgements and evidence links), so every
-- version is kept and can be compared. `assessments.current_version` is the optimistic-concurrency token: a
-- save names the version it started from and is refused as a conflict when another save got there first.
-- Each version carries the marking derived from its evidence (highest TLP, narrowest releasability, RED
-- recipients, AMBER+STRICT originator); reads also re-check every evidence record against the reader.

create sequence assessment_seq;
create table assessments (
    id bigint primary key default nextval('assessment_seq'),
    created_by varchar not null,
    created_institute varchar not null check (created_institute in ('UK', 'AU')),
    created_at timestamp not null default current_timestamp,
    status varchar not null check (status in ('draft', 'in_review', 'returned', 'approved')),
    current_version integer not null,
    approved_version integer,
    approved_at timestamp,
    supersedes bigint
);

-- One row per state-changing write of an assessment. Each write inserts the next number for its assessment;
-- two writes racing from the same state insert the same key and the second to commit fails. DuckDB does not
-- refuse concurrent updates of the same row, so this key is what serialises writes per assessment.
create table assessment_writes (
    assessment_id bigint not null,
    seq integer not null,
    email varchar not null,
    action varchar not null,
    "at" timestamp not null default current_timestamp,
    primary key (assessment_id, seq)
);

create table assessment_versions (
    assessment_id bigint not null,
    version integer not null,
    title varchar not null,
    question varchar not null default '',
    bluf varchar not null default '',
    assumptions varchar[] not null default [],
    alternatives varchar[] not null default [],
    indicators varchar[] not null default [],
    changes varchar not null default '',
    -- what the authors asked for (a floor: the marking is never lower than the evidence requires)
    raise_tlp varchar check (raise_tlp is null or raise_tlp in ('CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED')),
    restrict_to varchar[] not null default [],
    requested_recipients varchar[] not null default [],
    -- the marking this version carries
    tlp varchar not null check (tlp in ('CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED')),
    releasable_to varchar[] not null,
    named_recipients varchar[] not null default [],
    originator varchar not null,
    saved_by varchar not null,
    saved_at timestamp not null,
    note varchar not null default '',
    primary key (assessment_id, version)
);

create table assessment_judgements (
    assessment_id bigint not null,
    version integer not null,
    position integer not null,
    judgement_key varchar not null,
    statement varchar not null,
    term varchar,
    confidence varchar check (confidence is null or confidence in ('high', 'moderate', 'low')),
    reasoning varchar not null default '',
    edited_at timestamp not null,
    edited_by varchar not null,
    primary key (assessment_id, version, position)
);

create table assessment_evidence (
    assessment_id bigint not null,
    version integer not null,
    judgement_key varchar not null,
    kind varchar not null check (kind in ('incident', 'eval_run', 'view')),
    ref_id varchar not null,
    -- the evidence's marking when this version was saved (what the version's marking was derived from)
    tlp varchar not null,
    releasable_to varchar[] not null,
    named_recipients varchar[] not null default [],
    originator varchar not null,
    primary key (assessment_id, version, judgement_key, kind, ref_id)
);

create table assessment_signoffs (
    assessment_id bigint not null,
    version integer not null,
    email varchar not null,
    institute varchar not null check (institute in ('UK', 'AU')),
    "at" timestamp not null default current_timestamp,
    primary key (assessment_id, version, email)
);

create sequence assessment_comment_seq;
create table assessment_comments (
    id bigint primary key default nextval('assessment_comment_seq'),
    assessment_id bigint not null,
    version integer not null,
    judgement_key varchar,
    email varchar not null,
    institute varchar not null,
    kind varchar not null check (kind in ('comment', 'dissent', 'return')),
    body varchar not null,
    "at" timestamp not null default current_timestamp
);

-- Evidence as it was when a version was approved: values and markings, so later edits never change an
-- approved assessment silently.
create table assessment_pins (
    assessment_id bigint not null,
    version integer not null,
    kind varchar not null,
    ref_id varchar not null,
    snapshot json not null,
    tlp varchar not null,
    releasable_to varchar[] not null,
    named_recipients varchar[] not null default [],
    pinned_at timestamp not null,
    primary key (assessment_id, version, kind, ref_id)
);
