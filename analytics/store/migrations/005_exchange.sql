-- Intelligence exchange: saved column mappings, STIX identities of imported records, record history (so a
-- STIX update can be undone and audited), notes carried by STIX bundles, and the outcome of inbox hand-overs.

-- Column mapping an analyst confirmed for a source (a partner's spreadsheet), offered again next time.
create table column_mappings (
    source_key varchar not null,          -- normalised source name, e.g. 'cert-au weekly'
    target varchar not null check (target in ('incidents', 'eval_runs')),
    mapping json not null,                -- {"file column": "field", ...}
    institute varchar not null,
    saved_by varchar not null,
    saved_at timestamp not null default current_timestamp,
    primary key (source_key, target, institute)
);

-- The STIX identity of each record that came in through (or went out as) STIX, and its `modified` time: the
-- same id and `modified` again is no change; a newer `modified` is an update with history.
create table stix_records (
    stix_id varchar primary key,
    record_id varchar not null,
    object_type varchar not null,
    created timestamp not null,
    modified timestamp not null,
    origin varchar not null,              -- institute whose identity created it ('UK', 'AU'), else 'EXTERNAL'
    import_batch varchar
);
create index stix_records_record on stix_records (record_id);

-- Earlier versions of records replaced by an import. `previous` is the whole row (with techniques), so undoing
-- the batch restores it exactly.
create sequence record_history_seq;
create table record_history (
    id bigint primary key default nextval('record_history_seq'),
    table_name varchar not null check (table_name in ('incidents', 'eval_runs')),
    record_id varchar not null,
    batch_id varchar not null,
    previous json not null,
    replaced_at timestamp not null default current_timestamp,
    replaced_by varchar not null
);
create index record_history_record on record_history (record_id);

-- STIX notes about incidents. They carry the marking of the incident they annotate.
create table incident_notes (
    stix_id varchar not null,
    incident_id varchar not null,
    author varchar,
    abstract varchar,
    content varchar not null,
    created timestamp not null,
    import_batch varchar,
    primary key (stix_id, incident_id)
);
create index incident_notes_incident on incident_notes (incident_id);

-- What happened to each file a command handed over to the running dashboard (data/inbox/).
create sequence inbox_log_seq;
create table inbox_log (
    id bigint primary key default nextval('inbox_log_seq'),
    file_name varchar not null,
    kind varchar not null,
    actor varchar not null,
    institute varchar,
    submitted_at timestamp,
    processed_at timestamp not null default current_timestamp,
    outcome varchar not null check (outcome in ('imported', 'refused')),
    message varchar not null,
    batch_id varchar
);
