-- Watchlists (issue 20): a person watches a saved view; on their next visit they are told what arrived since.
-- One row per (view, person). `seen_to` is the moment up to which this person has been shown the view's news:
-- a visit shows what arrived after it and moves it on, so each item is shown once. Only filters and times are
-- stored, never records or results: what a visit shows is read then, through the person's markings at that
-- moment, so a watch never reveals a record they cannot read now.
create sequence watch_seq;
create table watches (
    id bigint primary key default nextval('watch_seq'),
    view_id bigint not null,
    owner varchar not null,
    created_at timestamp not null default current_timestamp,
    seen_to timestamp not null default current_timestamp,
    unique (view_id, owner)
);
