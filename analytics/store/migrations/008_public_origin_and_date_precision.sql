-- Public sources are their own originator, and every incident says how precise its date is (issue 15).
--
-- `originator` said which institute reported an incident; public case studies and incidents (ATLAS, AIID and the
-- public importers after them) had to borrow UK or AU, so every UK-AU comparison counted the public record as
-- one institute's reporting. They are now `PUBLIC`, whoever imported them, and `source` names the public
-- source. Public records are TLP:CLEAR (or a higher TLP an importer chose) and releasable to both institutes, so
-- nobody's view changes.
--
-- `occurred_precision` says whether `occurred_on` is known to the day, the month or the year. Sources that know
-- only a month write the 1st; without this column the 1st of every month looked like a spike. Existing public
-- records dated on the 1st of a month are taken as month precision (AIID records only a date; 144 of its 1,365
-- incidents fall on the 1st, three times what chance gives); re-importing ATLAS sets the precision it states.
--
-- DuckDB cannot change a check constraint in place, so the table is rebuilt with the same columns in the same
-- order plus the new one; nothing else refers to it by constraint.

create table incidents_008 (
    id varchar primary key,
    title varchar not null,
    summary varchar,
    occurred_on date not null,
    reported_on date,
    originator varchar not null check (originator in ('UK', 'AU', 'PUBLIC')),
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
    occurred_precision varchar not null default 'day' check (occurred_precision in ('day', 'month', 'year')),
    check (tlp <> 'RED' or len(named_recipients) > 0),
    -- AMBER+STRICT is for the originating institute only and RED for named people: neither fits public data
    check (originator <> 'PUBLIC' or tlp not in ('AMBER+STRICT', 'RED'))
);

insert into incidents_008
select
    id, title, summary, occurred_on, reported_on,
    case when source in ('atlas', 'aiid') then 'PUBLIC' else originator end,
    source, category, severity, actor_type, sectors, countries, affected_system, developer, status, tlp,
    releasable_to, named_recipients, source_reliability, credibility, tags, import_batch, created_at, updated_at,
    case when source in ('atlas', 'aiid') and day(occurred_on) = 1 then 'month' else 'day' end
from incidents;

drop table incidents;
alter table incidents_008 rename to incidents;
