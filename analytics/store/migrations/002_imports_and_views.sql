-- Import batches (history and undo) and saved views (named filter states used as evidence and in briefings).

create table import_batches (
    batch_id varchar primary key,
    kind varchar not null,
    source varchar not null,
    imported_by varchar not null,
    institute varchar,
    "at" timestamp not null default current_timestamp,
    added integer not null default 0,
    updated integer not null default 0,
    unchanged integer not null default 0,
    rejected integer not null default 0,
    warnings varchar[] not null default [],
    undone_at timestamp,
    undone_by varchar
);

create sequence saved_view_seq;
create table saved_views (
    id bigint primary key default nextval('saved_view_seq'),
    name varchar not null,
    page varchar not null,
    query json not null,
    owner varchar not null,
    institute varchar not null,
    created_at timestamp not null default current_timestamp
);
