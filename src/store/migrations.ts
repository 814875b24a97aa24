/**
 * Schema migrations, in order. Append only: never edit a migration that has shipped; add a new one.
 * Dataset record tables (ds_*) are created from catalogue definitions by the catalogue seeder, not here.
 */
export interface Migration {
  id: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: '0001_init',
    sql: `
create table orgs (
  id text primary key,
  name text not null,
  name_zh text not null,
  kind text not null check (kind in ('authority', 'department'))
);

-- The hierarchy: city > district > subdistrict > community > building > floor.
create table units (
  id text primary key,
  level text not null check (level in ('city', 'district', 'subdistrict', 'community', 'building', 'floor')),
  parent_id text references units(id),
  code text,
  name text not null,
  name_zh text,
  district_id text,
  subdistrict_id text,
  community_id text,
  geom jsonb,
  min_lon double precision, min_lat double precision, max_lon double precision, max_lat double precision
);
create index units_parent_idx on units (parent_id);
create index units_level_idx on units (level);

-- Space grains: rooms, boxes of open space, segments of infrastructure.
create table grains (
  id text primary key,
  kind text not null check (kind in ('room', 'box', 'segment')),
  subtype text not null,
  district_id text not null,
  subdistrict_id text not null,
  community_id text not null,
  building_id text,
  floor_id text,
  geom jsonb not null,
  z_min double precision not null,
  z_max double precision not null,
  measure double precision not null,
  measure_unit text not null check (measure_unit in ('m2', 'm3', 'm')),
  lon double precision not null,
  lat double precision not null,
  min_lon double precision not null, min_lat double precision not null,
  max_lon double precision not null, max_lat double precision not null,
  h3_r7 text not null,
  h3_r8 text not null,
  h3_r9 text not null
);
create index grains_district_idx on grains (district_id);
create index grains_subdistrict_idx on grains (subdistrict_id);
create index grains_community_idx on grains (community_id);
create index grains_building_idx on grains (building_id);
create index grains_kind_idx on grains (kind);

create table catalogue_datasets (
  id text primary key,
  title text not null,
  title_zh text not null,
  description text not null,
  owner_org text not null references orgs(id),
  grain_kind text not null check (grain_kind in ('room', 'box', 'segment')),
  table_name text not null unique,
  grade text not null,
  personal text not null,
  open_class text not null,
  updated_at timestamptz not null default now()
);

create table catalogue_fields (
  dataset_id text not null references catalogue_datasets(id),
  name text not null,
  ordinal int not null,
  type text not null check (type in ('string', 'int', 'float', 'bool', 'date')),
  grade text not null check (grade in ('general', 'important', 'core')),
  personal text not null check (personal in ('none', 'personal', 'sensitive')),
  open_class text not null check (open_class in ('unconditional', 'conditional', 'closed')),
  mask_kind text not null check (mask_kind in ('redact', 'hash', 'truncate')),
  unit text,
  description text not null,
  primary key (dataset_id, name)
);

create table grants (
  id text primary key,
  org text not null references orgs(id),
  dataset_id text not null references catalogue_datasets(id),
  fields jsonb not null,
  purpose text not null,
  extent jsonb not null,
  valid_from timestamptz not null,
  valid_to timestamptz not null,
  approved_by text not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);
create index grants_org_dataset_idx on grants (org, dataset_id);

-- casbin policy lines (roles and grants), loaded by the casbin adapter.
create table casbin_rules (
  id bigserial primary key,
  ptype text not null,
  v0 text not null default '', v1 text not null default '', v2 text not null default '',
  v3 text not null default '', v4 text not null default '', v5 text not null default ''
);

create table api_keys (
  id text primary key,
  prefix text not null unique,
  secret_hash text not null,
  label text not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);

-- Provenance: append-only; the table adapter of the ProvenanceLog port.
create table provenance_records (
  idx bigint primary key,
  leaf_hash text not null,
  record jsonb not null,
  appended_at timestamptz not null default now()
);
create or replace function provenance_records_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'provenance_records is append-only';
end $$;
create trigger provenance_records_no_update before update or delete on provenance_records
  for each row execute function provenance_records_append_only();

create table kv (
  key text primary key,
  value jsonb not null
);
`,
  },
  {
    id: '0002_verifiable_log',
    sql: `
-- The verifiable log's PostgreSQL storage (src/ledger/storage/postgres-log-storage.adapter.ts, ADR 0002).
-- One row: the log key the tables belong to, and the integrated tree size (the sequencer's fence).
create table log_state (
  id smallint primary key check (id = 1),
  log_id text not null,
  public_key text not null,
  tree_size bigint not null default 0
);

-- Leaves, densely indexed from 0; written only by the sequencer, never changed.
create table log_leaves (
  idx bigint primary key,
  record text not null,
  dataset text,
  org text
);
create index log_leaves_dataset_idx on log_leaves (dataset, idx);
create index log_leaves_org_idx on log_leaves (org, idx);

-- Hashes of every complete subtree (level 0: the leaf hashes).
create table log_nodes (
  level smallint not null,
  idx bigint not null,
  hash bytea not null check (length(hash) = 32),
  primary key (level, idx)
);

-- Batches waiting for the sequencer; first_idx is set when they are integrated.
create table log_queue (
  id bigserial primary key,
  records text[] not null,
  datasets text[] not null,
  orgs text[] not null,
  first_idx bigint,
  enqueued_at timestamptz not null default now()
);
create index log_queue_pending_idx on log_queue (id) where first_idx is null;

create table log_tree_heads (
  id bigserial primary key,
  tree_size bigint not null,
  sth text not null
);

create or replace function log_append_only() returns trigger language plpgsql as $$
begin
  raise exception '% is append-only', tg_table_name;
end $$;
create trigger log_leaves_append_only before update or delete on log_leaves
  for each row execute function log_append_only();
create trigger log_nodes_append_only before update or delete on log_nodes
  for each row execute function log_append_only();
create trigger log_tree_heads_append_only before update or delete on log_tree_heads
  for each row execute function log_append_only();
`,
  },
  {
    id: '0003_audit_index',
    sql: `
-- The auditors' index: metadata of each provenance record (never data values), derived from the verifiable
-- log and rebuilt from it when behind (src/audit/audit-index.ts). The log, not this table, is what audits verify.
create table audit_index (
  idx bigint primary key,
  at timestamptz not null,
  sub text not null,
  org text,
  roles jsonb not null,
  purpose text,
  dataset text not null,
  mode text not null,
  fields jsonb not null,
  tier text not null,
  allowed boolean not null,
  released boolean not null,
  refusal text,
  grant_id text,
  rows int not null,
  within text,
  reasons jsonb not null
);
create index audit_index_at_idx on audit_index (at);
create index audit_index_sub_idx on audit_index (sub, at);
create index audit_index_org_idx on audit_index (org, at);
create index audit_index_dataset_idx on audit_index (dataset, at);

-- Which space grains (or released cells) each record touched.
create table audit_grains (
  grain_id text not null,
  idx bigint not null,
  primary key (grain_id, idx)
);

-- The interim provenance table is superseded by the verifiable log.
drop trigger provenance_records_no_update on provenance_records;
drop table provenance_records;
drop function provenance_records_append_only();
`,
  },
  {
    id: '0004_encrypted_columns',
    sql: `
-- Encrypted columns (DESIGN.md §8, docs/encrypted-columns.md). The owner's public key bundle (never a secret
-- key), per owner org, dataset and column; SEAL-serialised bytes.
create table he_key_bundles (
  owner_org text not null references orgs(id),
  dataset_id text not null references catalogue_datasets(id),
  column_name text not null,
  key_id text not null,
  scheme text not null check (scheme in ('bfv', 'ckks')),
  params_id text not null,
  params bytea not null,
  public_key bytea not null,
  relin_keys bytea not null,
  galois_keys bytea not null,
  galois_steps jsonb not null,
  uploaded_by text not null,
  uploaded_at timestamptz not null default now(),
  primary key (owner_org, dataset_id, column_name)
);

-- The slot layout of an uploaded column (column-codec.ts ColumnLayout), under the key bundle above.
create table he_columns (
  dataset_id text not null references catalogue_datasets(id),
  column_name text not null,
  owner_org text not null references orgs(id),
  key_id text not null,
  scheme text not null check (scheme in ('bfv', 'ckks')),
  params_id text not null,
  layout jsonb not null,
  rows int not null,
  ciphertexts int not null,
  uploaded_at timestamptz not null default now(),
  primary key (dataset_id, column_name)
);

-- Row r of the column (the order the owner encrypted in): its record id and the grain it lies in, so that
-- grouping by a hierarchy level is a plaintext group index.
create table he_column_rows (
  dataset_id text not null,
  column_name text not null,
  row_idx int not null,
  record_id text not null,
  grain_id text not null references grains(id),
  primary key (dataset_id, column_name, row_idx),
  foreign key (dataset_id, column_name) references he_columns(dataset_id, column_name) on delete cascade
);

-- Ciphertext chunks, one row per ciphertext index; inserted idempotently so a re-sent chunk resumes an upload.
-- Upload progress is count(*) against he_columns.ciphertexts.
create table he_ciphertexts (
  dataset_id text not null,
  column_name text not null,
  chunk_idx int not null,
  sha256 text not null,
  bytes bytea not null,
  uploaded_at timestamptz not null default now(),
  primary key (dataset_id, column_name, chunk_idx),
  foreign key (dataset_id, column_name) references he_columns(dataset_id, column_name) on delete cascade
);
`,
  },
  {
    id: '0005_jobs',
    sql: `
-- Sandbox jobs (docs/sandbox-jobs.md): a durable queue. Workers claim with FOR UPDATE SKIP LOCKED and hold a
-- lease they renew; a 'running' job whose lease expired (its gateway stopped) is retried once, then failed.
create table jobs (
  id text primary key,
  submitter_sub text not null,
  submitter_org text,
  submitter_roles jsonb not null,
  submitter_via text not null,
  dataset_id text not null references catalogue_datasets(id),
  owner_org text not null,
  fields jsonb not null,
  purpose text,
  language text not null check (language in ('js', 'ts')),
  run_on text not null check (run_on in ('dummy', 'real')),
  code text not null,
  code_hash text not null,
  status text not null check (status in
    ('queued', 'running', 'awaiting_review', 'succeeded', 'refused', 'failed', 'cancelled')),
  attempts int not null default 0,
  lease_owner text,
  lease_expires timestamptz,
  log jsonb not null default '[]'::jsonb,
  -- Released tables (visible); null until the release record is durable in the provenance log.
  outputs jsonb,
  -- Checked tables and audited cells waiting for an owner's review; never shown to the submitter.
  pending jsonb,
  refusal jsonb,
  error text,
  receipt_index bigint,
  output_hash text,
  reviewed_by text,
  review_reason text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create index jobs_queue_idx on jobs (status, created_at);
create index jobs_submitter_idx on jobs (submitter_sub, created_at);
create index jobs_owner_idx on jobs (owner_org, created_at);

-- Cells already released to an organisation, per population (a dataset), for the differencing audit
-- (src/jobs/disclosure/release-history.port.ts). Append only.
create table job_release_history (
  seq bigserial primary key,
  org text not null,
  population text not null,
  release_id text not null,
  cells jsonb not null,
  at timestamptz not null default now(),
  unique (org, population, release_id)
);
create index job_release_history_scope_idx on job_release_history (org, population, seq);

-- Datasets whose owners require human review of sandbox releases.
create table job_review_policies (
  dataset_id text primary key references catalogue_datasets(id),
  required boolean not null,
  set_by text not null,
  set_at timestamptz not null default now()
);
`,
  },
  {
    id: '0006_dp_budget',
    sql: `
-- Differential privacy (docs/differential-privacy.md): a privacy budget per organisation and dataset, in
-- integer micro-epsilon, and every noisy answer released against it. src/jobs/dp/privacy-budget.repository.ts
-- charges and stores in one transaction under the budget row's lock, so spent_micro always equals the sum of
-- the stored answers' charges and never exceeds total_micro.
create table dp_budgets (
  org_id text not null,
  dataset_id text not null,
  total_micro bigint not null check (total_micro >= 0),
  spent_micro bigint not null default 0 check (spent_micro >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, dataset_id),
  check (spent_micro <= total_micro)
);

-- One noisy answer per (organisation, dataset, canonical query key); its noise was drawn once, and a repeated
-- query gets this answer back. Never changed or removed: a second draw would let a caller average noise away.
create table dp_answers (
  org_id text not null,
  dataset_id text not null,
  query_key text not null check (query_key ~ '^[0-9a-f]{64}$'),
  mechanism text not null check (mechanism in ('laplace', 'gaussian')),
  epsilon_micro bigint not null check (epsilon_micro > 0),
  answer jsonb not null,
  answered_at timestamptz not null default now(),
  primary key (org_id, dataset_id, query_key),
  foreign key (org_id, dataset_id) references dp_budgets (org_id, dataset_id)
);
create trigger dp_answers_append_only before update or delete on dp_answers
  for each row execute function log_append_only();
`,
  },
  {
    id: '0007_grant_applications',
    sql: `
-- Data-sharing applications (src/grants/, docs/grants.md): a department applies for fields of a dataset for a
-- purpose, inside an extent, for a period; the owner approves (possibly narrower) or rejects with a reason.
create table grant_applications (
  id text primary key,
  applicant_org text not null references orgs(id),
  applicant_sub text not null,
  dataset_id text not null references catalogue_datasets(id),
  owner_org text not null references orgs(id),
  fields jsonb not null,
  purpose text not null,
  extent jsonb not null,
  valid_from timestamptz not null,
  valid_until timestamptz not null,
  legal_basis text not null,
  contact text not null,
  status text not null check (status in ('pending', 'approved', 'rejected')),
  created_at timestamptz not null default now(),
  decided_by text,
  decided_at timestamptz,
  reason text,
  grant_id text references grants(id)
);
create index grant_applications_applicant_idx on grant_applications (applicant_org, created_at);
create index grant_applications_owner_idx on grant_applications (owner_org, status, created_at);

-- Grants from applications; who revoked and why; whether the gateway has logged the grant's expiry.
alter table grants add column application_id text references grant_applications(id);
alter table grants add column revoked_by text;
alter table grants add column revoke_reason text;
alter table grants add column expiry_logged_at timestamptz;

-- Bumped in the transaction of every grant change: each gateway instance compares it with the version it
-- loaded before a decision (and is told of changes by NOTIFY citygate_grants), so none decides on stale grants.
create table grants_version (
  id smallint primary key check (id = 1),
  version bigint not null
);
insert into grants_version (id, version) values (1, 1);

-- The auditors' index learns the grant steps (kind grant-applied, grant-approved, ...): they carry no mode or
-- tier, and name the application, the granted extent and the reason given.
alter table audit_index add column kind text not null default 'access';
alter table audit_index add column application_id text;
alter table audit_index add column extent jsonb;
alter table audit_index add column reason text;
alter table audit_index alter column mode drop not null;
alter table audit_index alter column tier drop not null;
create index audit_index_kind_idx on audit_index (kind, at);
`,
  },
  {
    id: '0008_consumers',
    sql: `
-- Self-registered open-data consumers: one API key each (api_keys holds only its hash). The tier sets the
-- rate limits; self-service registrations start at 'open', an admin may raise or lower it.
create table consumers (
  id text primary key,
  api_key_id text not null unique references api_keys(id),
  name text not null,
  email text not null,
  intended_use text not null,
  tier text not null,
  created_at timestamptz not null default now()
);

-- Rate-limit counters shared by every gateway instance on one store: one row per subject (an API key, a
-- token subject or a client address), kind (operations, records, registrations) and fixed window; bumped
-- with one atomic insert ... on conflict do update ... returning.
create table rate_counters (
  subject text not null,
  kind text not null,
  window_start timestamptz not null,
  count bigint not null,
  primary key (subject, kind, window_start)
);
create index rate_counters_window_idx on rate_counters (window_start);
`,
  },
  {
    id: '0009_he_key_bundle_parts',
    sql: `
-- A public key bundle arrives in parts (its Galois keys alone exceed the request body limit). Parts are kept
-- until all of them are in; the assembled bundle must hash to the announced SHA-256, then it is stored in
-- he_key_bundles and the parts are dropped. Re-sending a part resumes an interrupted upload.
create table he_key_bundle_parts (
  owner_org text not null references orgs(id),
  dataset_id text not null,
  column_name text not null,
  bundle_sha256 text not null,
  part_idx int not null,
  part_count int not null,
  part_sha256 text not null,
  bytes bytea not null,
  uploaded_at timestamptz not null default now(),
  primary key (owner_org, dataset_id, column_name, bundle_sha256, part_idx)
);
`,
  },
  {
    id: '0010_job_dp',
    sql: `
-- Sandbox jobs on datasets answered with differential privacy: the measure columns a job declares at submission
-- (counts, bounded sums), and what its release drew on the privacy budget (dp_budgets / dp_answers, 0006).
alter table jobs add column dp_measures jsonb;
alter table jobs add column dp_spend jsonb;
`,
  },
  {
    id: '0012_he_approvals',
    sql: `
-- Owner approval of encrypted computations (docs/encrypted-columns.md). Each computation waits for the owner
-- (status pending) unless a standing rule approved it as it was logged; the owner's decision is appended to the
-- provenance log (decision_index) before the status changes. The log, not this table, is what the key holder
-- checks.
create table he_computations (
  computation_id text primary key,
  dataset_id text not null references catalogue_datasets(id),
  column_name text not null,
  owner_org text not null references orgs(id),
  key_id text not null,
  kind text not null,
  requester_sub text not null,
  requester_org text,
  purpose text,
  cells int not null,
  min_units int not null,
  log_index bigint not null,
  leaf_hash text not null,
  status text not null check (status in ('pending', 'approved', 'refused')),
  rule_id text,
  decision_index bigint,
  decided_by text,
  reason text,
  created_at timestamptz not null default now(),
  decided_at timestamptz
);
create index he_computations_owner_idx on he_computations (owner_org, status, created_at);

-- Standing approval rules per dataset and column: which organisations, purposes and kinds (null: any), and the
-- fewest units every cell must cover. Setting and revoking are logged (set_index, revoke_index) first.
create table he_approval_rules (
  rule_id text primary key,
  owner_org text not null references orgs(id),
  dataset_id text not null references catalogue_datasets(id),
  column_name text not null,
  orgs jsonb not null,
  purposes jsonb,
  kinds jsonb,
  min_units int not null check (min_units >= 1),
  created_by text not null,
  created_at timestamptz not null default now(),
  set_index bigint not null,
  revoked_at timestamptz,
  revoked_by text,
  revoke_index bigint,
  revoke_reason text
);
create index he_approval_rules_column_idx on he_approval_rules (dataset_id, column_name);
`,
  },
  {
    id: '0013_he_resumable_uploads',
    sql: `
-- The record-id list of an encrypted column arrives in parts (100,000 ids exceed the request body limit),
-- kept until all are in and they hash to the announced SHA-256; then he_column_rows is written and the parts
-- dropped. he_columns.record_ids_sha256 names the stored list, so a re-run that announces it again resumes
-- with the ciphertexts instead of sending the ids again.
create table he_column_row_parts (
  dataset_id text not null,
  column_name text not null,
  rows_sha256 text not null,
  part_idx int not null,
  part_count int not null,
  part_sha256 text not null,
  record_ids jsonb not null,
  uploaded_at timestamptz not null default now(),
  primary key (dataset_id, column_name, rows_sha256, part_idx)
);
alter table he_columns add column record_ids_sha256 text;

-- A key bundle whose parts are all in is checked in the background (loading its Galois keys takes a SEAL
-- worker seconds to minutes): its status, which the uploading CLI polls.
create table he_key_bundle_checks (
  owner_org text not null references orgs(id),
  dataset_id text not null,
  column_name text not null,
  bundle_sha256 text not null,
  status text not null check (status in ('checking', 'stored', 'rejected')),
  message text,
  key_id text,
  updated_at timestamptz not null default now(),
  primary key (owner_org, dataset_id, column_name, bundle_sha256)
);
`,
  },
  {
    id: '0017_he_ciphertext_parts',
    sql: `
-- A ciphertext arrives in bounded parts (at larger ring degrees, or under a smaller body limit, one ciphertext
-- exceeds a request), kept until all are in and they hash to the announced SHA-256; then it is stored in
-- he_ciphertexts and its parts dropped.
create table he_ciphertext_parts (
  dataset_id text not null,
  column_name text not null,
  chunk_idx int not null,
  ciphertext_sha256 text not null,
  part_idx int not null,
  part_count int not null,
  part_sha256 text not null,
  bytes bytea not null,
  uploaded_at timestamptz not null default now(),
  primary key (dataset_id, column_name, chunk_idx, ciphertext_sha256, part_idx),
  foreign key (dataset_id, column_name) references he_columns(dataset_id, column_name) on delete cascade
);
`,
  },
  {
    id: '0023_disclosure_index',
    sql: `
-- The differencing audit's index (src/jobs/disclosure/pg-release-history.adapter.ts): each distinct released cell
-- of an organisation and population once, and unit -> cells, so a check reads only the earlier cells that share a
-- unit with the new ones instead of the whole history. Filled from job_release_history, then on every append.
create table disclosure_cells (
  id bigserial primary key,
  org text not null,
  population text not null,
  release_id text not null,
  cell text not null,
  signature text not null,
  units jsonb not null,
  unique (org, population, signature)
);
create table disclosure_units (
  org text not null,
  population text not null,
  unit text not null,
  cell_id bigint not null references disclosure_cells(id),
  primary key (org, population, unit, cell_id)
);
insert into disclosure_cells (org, population, release_id, cell, signature, units)
select distinct on (h.org, h.population, sig.signature) h.org, h.population, h.release_id, c.value->>'cell',
       sig.signature, c.value->'units'
  from job_release_history h
  cross join lateral jsonb_array_elements(h.cells) c
  cross join lateral (
    select encode(sha256(convert_to(coalesce(string_agg(u, chr(1) order by u collate "C"), ''), 'UTF8')), 'hex') as signature
      from (select distinct u from jsonb_array_elements_text(c.value->'units') u) d
  ) sig
 order by h.org, h.population, sig.signature, h.seq;
insert into disclosure_units (org, population, unit, cell_id)
select distinct c.org, c.population, u, c.id from disclosure_cells c cross join lateral jsonb_array_elements_text(c.units) u;
`,
  },
  {
    id: '0025_declared_outputs',
    sql: `
-- Sandbox jobs declare their output tables before they see data (src/jobs/job-outputs.ts): a key may range over
-- the code list of a catalogue field, kept here; a job keeps its declaration.
alter table catalogue_fields add column categories jsonb;
update catalogue_fields set categories = '["owner-occupied", "rented"]'
 where dataset_id = 'residents-per-room' and name = 'tenure';
update catalogue_fields set categories = '["65-74", "75-84", "85+"]'
 where dataset_id = 'elderly-living-alone' and name = 'age_band';
update catalogue_fields set categories = '["0", "1", "2", "3", "4", "5", "6"]'
 where dataset_id = 'elderly-living-alone' and name = 'care_level';
update catalogue_fields set categories = '["open", "in-progress", "closed"]'
 where dataset_id = 'hotline-complaints' and name = 'status';
alter table jobs add column declared_outputs jsonb;
`,
  },
];
