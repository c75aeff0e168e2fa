-- The part of Mastodon's schema (db/schema.rb, 4.x) that mastiff reads, with Mastodon's table
-- and column names and types, and generated rows. Usage: psql -v statuses=N -f schema.sql
\set ON_ERROR_STOP on
DROP TABLE IF EXISTS media_attachments, statuses, account_stats, users, accounts;

CREATE TABLE accounts (
  id bigserial PRIMARY KEY,
  username character varying DEFAULT '' NOT NULL,
  domain character varying,
  created_at timestamp NOT NULL DEFAULT now(),
  updated_at timestamp NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX index_accounts_on_username_and_domain_lower ON accounts (lower(username), COALESCE(lower(domain), ''));

CREATE TABLE users (
  id bigserial PRIMARY KEY,
  email character varying DEFAULT '' NOT NULL,
  created_at timestamp NOT NULL DEFAULT now(),
  updated_at timestamp NOT NULL DEFAULT now(),
  current_sign_in_at timestamp,
  account_id bigint NOT NULL REFERENCES accounts (id),
  disabled boolean DEFAULT false NOT NULL,
  approved boolean DEFAULT true NOT NULL
);
CREATE INDEX index_users_on_account_id ON users (account_id);

CREATE TABLE account_stats (
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id),
  statuses_count bigint DEFAULT 0 NOT NULL,
  following_count bigint DEFAULT 0 NOT NULL,
  followers_count bigint DEFAULT 0 NOT NULL,
  created_at timestamp NOT NULL DEFAULT now(),
  updated_at timestamp NOT NULL DEFAULT now(),
  last_status_at timestamp
);
CREATE UNIQUE INDEX index_account_stats_on_account_id ON account_stats (account_id);

CREATE TABLE statuses (
  id bigserial PRIMARY KEY,
  uri character varying,
  text text DEFAULT '' NOT NULL,
  created_at timestamp NOT NULL DEFAULT now(),
  updated_at timestamp NOT NULL DEFAULT now(),
  account_id bigint NOT NULL,
  local boolean,
  visibility integer DEFAULT 0 NOT NULL
);
CREATE INDEX index_statuses_20190820 ON statuses (account_id, id DESC, visibility, updated_at);

CREATE TABLE media_attachments (
  id bigserial PRIMARY KEY,
  status_id bigint,
  file_file_name character varying,
  file_content_type character varying,
  file_file_size integer,
  remote_url character varying DEFAULT '' NOT NULL,
  created_at timestamp NOT NULL DEFAULT now(),
  updated_at timestamp NOT NULL DEFAULT now(),
  account_id bigint
);
CREATE INDEX index_media_attachments_on_account_id_and_status_id ON media_attachments (account_id, status_id DESC);

-- 20 local accounts with users (12 signed in within 30 days), 200 remote accounts.
INSERT INTO accounts (username, domain) SELECT 'local' || i, NULL FROM generate_series(1, 20) i;
INSERT INTO accounts (username, domain) SELECT 'remote' || i, 'remote' || (i % 17) || '.example' FROM generate_series(1, 200) i;
INSERT INTO users (email, account_id, current_sign_in_at)
  SELECT 'user' || i || '@example.social', i,
         CASE WHEN i <= 12 THEN now() - (i || ' days')::interval ELSE now() - interval '90 days' END
  FROM generate_series(1, 20) i;
-- Statuses: a quarter local, spread over all accounts.
INSERT INTO statuses (account_id, local, text, uri)
  SELECT CASE WHEN i % 4 = 0 THEN 1 + (i % 20) ELSE 21 + (i % 200) END, i % 4 = 0, 'status ' || i, 'https://x/' || i
  FROM generate_series(1, :statuses) i;
INSERT INTO account_stats (account_id, statuses_count)
  SELECT account_id, count(*) FROM statuses GROUP BY account_id;
-- Media: local uploads have no remote_url; cached remote media keep theirs.
INSERT INTO media_attachments (status_id, account_id, file_file_size, remote_url, file_content_type)
  SELECT i, CASE WHEN i % 3 = 0 THEN 1 ELSE 30 END, 1000 + i,
         CASE WHEN i % 3 = 0 THEN '' ELSE 'https://remote.example/media/' || i END, 'image/png'
  FROM generate_series(1, :statuses / 10) i;
-- Domains Mastodon stopped delivering to (DeliveryFailureTracker: 7 days of failures).
CREATE TABLE unavailable_domains (
  id bigserial PRIMARY KEY,
  domain character varying DEFAULT '' NOT NULL,
  created_at timestamp NOT NULL DEFAULT now(),
  updated_at timestamp NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX index_unavailable_domains_on_domain ON unavailable_domains (domain);
INSERT INTO unavailable_domains (domain) SELECT 'gone' || i || '.example' FROM generate_series(1, 7) i;
ANALYZE;
