-- Distribute convo's schema over a Citus cluster (Citus 12.1 on
-- PostgreSQL 15). Tables that hold one account's data are hash
-- distributed by account_id in one co-location group, so the rows of an
-- account live in shards of the same node, and a statement that reads or
-- writes one account's rows runs on that node. Data shared by all
-- accounts is in reference tables, which have a copy on every node.
-- convo.schema_version, the bookkeeping of convo-db migrate, stays a
-- plain table on the coordinator.
--
-- Run it on the coordinator after convo-db migrate, once the database
-- exists with CREATE EXTENSION citus on every node and the workers are
-- added (docs/scaling.md shows the steps):
--
--     psql -X -d convo -f citus.sql
--
-- The statements run one by one, not in one transaction, and each skips
-- a table that is distributed already. A run that failed half way can
-- run again once the cause is fixed, and so can a run after a migration
-- adds a table and its line here.
--
-- TODO: run tests/citus.bats where Citus 12.1 is installed: no statement
-- of this file has run against Citus yet.

\set ON_ERROR_STOP on

-- Off while the reference tables are created. With the coordinator in
-- the cluster's metadata, Citus would turn the local tables that
-- reference them (profiles, keywords) into Citus local tables, which
-- create_distributed_table then rejects. Each table with a foreign key
-- to another is distributed after that one.
SET citus.enable_local_reference_table_foreign_keys TO off;

-- The trigger of consent_changes writes the consent_ahead row of the
-- same account and customer, a co-located shard. Citus distributes a
-- table with triggers only with this setting on.
SET citus.enable_unsafe_triggers TO on;

-- Reference tables: shared by all accounts and small.
SELECT create_reference_table('convo.accounts')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.accounts'::regclass);
SELECT create_reference_table('convo.keyword_packs')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.keyword_packs'::regclass);
-- The role mappings are read by the row-level security policy of every
-- query, on whichever node runs it.
SELECT create_reference_table('convo.account_roles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.account_roles'::regclass);
SELECT create_reference_table('convo.area_code_zones')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.area_code_zones'::regclass);

-- profiles first: consent, messages, conversations and the outbox have
-- foreign keys (account_id, profile_id) to it. colocate_with => 'none'
-- starts a group of convo's own, which the other tables join.
SELECT create_distributed_table('convo.profiles', 'account_id',
    colocate_with => 'none')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.profiles'::regclass);
SELECT create_distributed_table('convo.consent_changes', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.consent_changes'::regclass);
SELECT create_distributed_table('convo.consent', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.consent'::regclass);
SELECT create_distributed_table('convo.consent_ahead', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.consent_ahead'::regclass);
SELECT create_distributed_table('convo.consent_archived', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.consent_archived'::regclass);
SELECT create_distributed_table('convo.opt_out_confirmations', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.opt_out_confirmations'::regclass);
SELECT create_distributed_table('convo.messages_archived', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.messages_archived'::regclass);
-- The partitioned tables are distributed whole: each monthly partition
-- becomes distributed with them, and a partition that convo-db
-- maintain attaches later is distributed as it is attached.
SELECT create_distributed_table('convo.message_keys', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.message_keys'::regclass);
SELECT create_distributed_table('convo.messages', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.messages'::regclass);
SELECT create_distributed_table('convo.status_events', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.status_events'::regclass);
SELECT create_distributed_table('convo.conversations', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.conversations'::regclass);
SELECT create_distributed_table('convo.keywords', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.keywords'::regclass);
SELECT create_distributed_table('convo.outbox', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.outbox'::regclass);
SELECT create_distributed_table('convo.conversation_events', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.conversation_events'::regclass);
-- The trigger of keywords writes keyword_events of the same account, a
-- co-located shard. NOTE: the trigger of the reference table accounts
-- writes it too, which Citus may reject; a settings change would then
-- fail on Citus.
SELECT create_distributed_table('convo.keyword_events', 'account_id',
    colocate_with => 'convo.profiles')
WHERE NOT EXISTS (SELECT 1 FROM pg_dist_partition
    WHERE logicalrelid = 'convo.keyword_events'::regclass);

RESET citus.enable_local_reference_table_foreign_keys;
