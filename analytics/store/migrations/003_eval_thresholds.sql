-- Evaluations: capability thresholds per benchmark and the per-sample scores of secondary Inspect scorers.
-- eval_runs itself is left as 001 made it (other features insert into and restore it by column), so the
-- importers keep their content fingerprint in eval_runs.details instead of a new column. No extra indexes:
-- eval_runs is small, and DuckDB's zone maps serve the eval_samples scans better than an ART index would (and
-- an index on eval_runs would block later ALTERs of that table).

-- One current threshold per benchmark, shared by both institutes (it is a line drawn on a chart of runs, and
-- only shown beside a benchmark the viewer can already see). Every change is also written to audit_log with
-- the old and new value, so the history lives there; this table holds what is in force now.
create table eval_thresholds (
    benchmark varchar primary key,
    threshold double not null,
    note varchar,
    set_by varchar not null,
    set_by_institute varchar not null check (set_by_institute in ('UK', 'AU', 'JOINT')),
    set_at timestamp not null default current_timestamp
);

-- Per-sample scores of every scorer of an Inspect log other than the headline one (which goes to eval_samples,
-- the table the comparisons use). Like eval_samples they carry no markings of their own: always read them
-- joined to a visible eval_run.
create table eval_sample_scores (
    run_id varchar not null,
    sample_id varchar not null,
    epoch integer not null default 1,
    scorer varchar not null,
    score double,
    value varchar
);
