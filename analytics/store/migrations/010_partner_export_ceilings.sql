-- What may leave for each partner institute, and where the TAXII 2.1 exchange with each partner stands (issue 17).
--
-- Export ceiling: the highest TLP an administrator lets leave in a bundle for a receiving institute (as OpenCTI's
-- "maximum shareable markings"). A bundle lands in the partner's systems (their MISP, OpenCTI, TAXII server), not
-- with a person, so TLP:RED (named people only) and TLP:AMBER+STRICT (the originator only) never go in one,
-- whatever the ceiling; the ceiling can only be CLEAR, GREEN or AMBER. No row means the default, AMBER
-- (analytics/export/partners.py). One row per partner: setting it again replaces the row, and the audit log keeps
-- every change (action 'set export ceiling').
create table partner_export_ceilings (
    partner varchar primary key check (partner in ('UK', 'AU')),
    max_tlp varchar not null check (max_tlp in ('CLEAR', 'GREEN', 'AMBER')),
    set_by varchar not null,
    set_at timestamp not null default current_timestamp
);

-- TAXII 2.1 sync (analytics/sync/): `pulled_until` is the partner server's X-TAXII-Date-Added-Last of the last
-- complete pull, sent back as `added_after` next time; kept as the server wrote it (TAXII timestamps carry
-- microseconds or more, which a round trip through a TIMESTAMP could shift).
create table partner_sync_state (
    partner varchar primary key check (partner in ('UK', 'AU')),
    pulled_until varchar,
    last_pull_at timestamp,
    last_push_at timestamp
);

-- Every STIX object version exchanged with a partner, either way: a push sends only versions not listed here (so a
-- second sync sends nothing), and never sends back what came from the partner (no echo of their own objects).
create table partner_sync_objects (
    partner varchar not null check (partner in ('UK', 'AU')),
    stix_id varchar not null,
    version varchar not null,             -- the object's `modified` (or `created`) as it travelled
    direction varchar not null check (direction in ('pulled', 'pushed')),
    -- the object itself, for marking definitions, identities, extension definitions and attack patterns pulled:
    -- a later pull may refer to them without repeating them, and the importer knows only the records it holds
    content json,
    exchanged_at timestamp not null default current_timestamp,
    primary key (partner, stix_id, version)
);
