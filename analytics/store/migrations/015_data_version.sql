-- The data version every app process can see. Each committed write transaction that changes what a cached result
-- reads adds one row here, inside the same transaction (analytics/store/database.py, Store.transaction), so a
-- replica that reads max(version) after another replica's commit keys its cache past that write. Rows are only
-- ever added, with ids from a sequence, so two concurrent writers never conflict on this table (a single
-- counter row would turn every pair of overlapping writes into a write conflict).
create sequence data_version_seq start 1;

create table data_versions (
    version bigint primary key,
    records_changed boolean not null,  -- false: only assessments / saved views changed (session.generation_for)
    written_at timestamp not null
);

insert into data_versions values (nextval('data_version_seq'), true, current_timestamp);
