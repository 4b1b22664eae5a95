-- Each incident's ATLAS tactics, kept at write time (issue 21).
--
-- Why: the sidebar counts incidents per tactic under the current filters at every filter change, and an incident
-- counts once per tactic however many of its techniques map to it. Derived from the technique rows each time,
-- that was a distinct count over every visible incident's techniques: about half of the facet counts' cost, the
-- largest cost of a filter change on the store server at 1M incidents. Kept here, it is one row per (incident,
-- tactic), counted directly.
--
-- Derived data, written only by analytics/store/incident_keys.py (which every writer of incident_techniques
-- goes through) and re-derived whole when ATLAS's technique -> tactic links change. A sub-technique falls under
-- its own tactics and its parent's. No primary key: the one writer inserts distinct rows (a UNION), and an index
-- would slow the whole re-derivation an ATLAS import makes.
create table incident_tactics (
    incident_key bigint not null,
    tactic_id varchar not null
);

insert into incident_tactics (incident_key, tactic_id)
select it.incident_key, tt.tactic_id from incident_techniques it
join atlas_technique_tactics tt on tt.technique_id = it.technique_id
union
select it.incident_key, tt.tactic_id from incident_techniques it
join atlas_technique_tactics tt on tt.technique_id = left(it.technique_id, 9)
order by 1, 2;
