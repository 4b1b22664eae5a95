-- Facts about the store itself, one row per key. `demo_store` is written by `python -m analytics demo`
-- (analytics.identity.mark_demo_store) in the transaction that builds the demo: demo mode signs people in
-- without a password, so it runs only on a store born as a demo store (analytics.identity.auth_mode). No
-- importer writes here, so importing real data into a demo store leaves it a demo store, and a real store
-- never becomes one.
create table store_meta (
    key varchar primary key,
    value varchar not null,
    set_at timestamp not null default current_timestamp
);
