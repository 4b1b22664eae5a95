-- An integer key for incidents, and incident_techniques keyed by it (issue 21).
--
-- Why: the threat matrix joins every visible incident to its techniques and groups per incident; on the text id
-- (e.g. 'UK-2024-0000042') that join alone took about 270 ms of the 440 ms all-time recompute at 1M incidents,
-- over the page's 300 ms target, and the technique and benchmark entity pages took 1-3 s for the same join.
-- Joined and grouped on a BIGINT it is several times cheaper (docs/benchmarks.md, "The threat matrix").
--
-- The text id stays the public identifier everywhere (links, exports, STIX, the UI); `incident_key` is internal
-- and never shown, exported or imported. Every row of incidents takes the next key from the sequence when it is
-- inserted (the column default), so writers that name their columns need no change for it; a writer of
-- incident_techniques must give the key of the incident (analytics/store/incident_keys.py does), and the
-- NOT NULL below refuses a row that has none rather than let a technique drop out of the matrix unseen.
--
-- Existing rows: adding the column fills every incident with a key from the sequence, in table order. The
-- techniques table is rebuilt with each row's key taken from its incident, ordered by key so that a visible
-- incident's techniques sit together. A technique row whose incident no longer exists (no writer leaves one,
-- but nothing in the schema forbade it) cannot take a key: it is kept, unchanged, in
-- incident_techniques_unkeyed rather than dropped, and no read ever counted it (every read joins incidents).
create sequence incident_key_seq start 1;

alter table incidents add column incident_key bigint default nextval('incident_key_seq');
alter table incidents alter column incident_key set not null;

create table incident_techniques_unkeyed as
select it.incident_id, it.technique_id
from incident_techniques it
where not exists (select 1 from incidents i where i.id = it.incident_id);

create table incident_techniques_keyed (
    incident_key bigint not null,
    incident_id varchar not null,
    technique_id varchar not null,
    primary key (incident_id, technique_id)
);

insert into incident_techniques_keyed
select i.incident_key, it.incident_id, it.technique_id
from incident_techniques it join incidents i on i.id = it.incident_id
order by i.incident_key, it.technique_id;

drop table incident_techniques;
alter table incident_techniques_keyed rename to incident_techniques;
