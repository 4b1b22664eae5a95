-- Core schema: incidents, evaluations, users, audit, and the ATLAS taxonomy the filters refer to.
-- Markings (tlp, releasable_to, named_recipients) live on every record table and are enforced by
-- analytics.markings.visible_sql in every read.

create table schema_version (
    version integer primary key,
    name varchar not null,
    applied_at timestamp not null
);

create table users (
    email varchar primary key,
    name varchar not null,
    institute varchar not null check (institute in ('UK', 'AU', 'JOINT')),
    role varchar not null check (role in ('analyst', 'lead', 'policymaker', 'admin')),
    active boolean not null default true,
    created_at timestamp not null default current_timestamp
);

create table incidents (
    id varchar primary key,
    title varchar not null,
    summary varchar,
    occurred_on date not null,
    reported_on date,
    originator varchar not null check (originator in ('UK', 'AU')),
    source varchar not null,
    category varchar not null,
    severity tinyint not null check (severity between 1 and 5),
    actor_type varchar,
    sectors varchar[] not null default [],
    countries varchar[] not null default [],
    affected_system varchar,
    developer varchar,
    status varchar,
    tlp varchar not null check (tlp in ('CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED')),
    releasable_to varchar[] not null check (len(releasable_to) > 0),
    named_recipients varchar[] not null default [],
    source_reliability varchar check (source_reliability in ('A', 'B', 'C', 'D', 'E', 'F')),
    credibility tinyint check (credibility between 1 and 6),
    tags varchar[] not null default [],
    import_batch varchar,
    created_at timestamp not null default current_timestamp,
    updated_at timestamp not null default current_timestamp,
    check (tlp <> 'RED' or len(named_recipients) > 0)
);

create table incident_techniques (
    incident_id varchar not null,
    technique_id varchar not null,
    primary key (incident_id, technique_id)
);

create table eval_runs (
    run_id varchar primary key,
    institute varchar not null check (institute in ('UK', 'AU', 'PUBLIC')),
    model varchar not null,
    model_developer varchar,
    model_release_date date,
    benchmark varchar not null,
    task_version varchar,
    eval_date date,
    metric varchar,
    score double,
    stderr double,
    n_samples integer,
    status varchar not null default 'success' check (status in ('success', 'error', 'cancelled', 'started')),
    source varchar not null,
    tlp varchar not null check (tlp in ('CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED')),
    releasable_to varchar[] not null check (len(releasable_to) > 0),
    named_recipients varchar[] not null default [],
    details json,
    import_batch varchar,
    created_at timestamp not null default current_timestamp,
    check (tlp <> 'RED' or len(named_recipients) > 0)
);

create table eval_samples (
    run_id varchar not null,
    sample_id varchar not null,
    epoch integer not null default 1,
    score double,
    value varchar
);

create sequence audit_seq;
create table audit_log (
    id bigint primary key default nextval('audit_seq'),
    "at" timestamp not null default current_timestamp,
    email varchar not null,
    action varchar not null,
    object varchar,
    detail varchar
);

-- ATLAS taxonomy (full release imported by `python -m analytics import atlas`; the demo seeds a subset).
create table atlas_tactics (
    id varchar primary key,
    name varchar not null,
    ordinal integer not null,
    description varchar
);

create table atlas_techniques (
    id varchar primary key,
    name varchar not null,
    description varchar,
    parent_id varchar,
    maturity varchar
);

create table atlas_technique_tactics (
    technique_id varchar not null,
    tactic_id varchar not null,
    primary key (technique_id, tactic_id)
);
