-- The transform of stytch-migrate, as far as DuckDB does it straight from Stytch JSONL: the
-- reference of the end-to-end benchmark (bench/e2e.sh). It is a simplification that flatters
-- DuckDB: primary email = the first one, a crude validity check, no per-user reject rules,
-- metadata limits, external-id checks, rejects file or reconciliation. Members are deduplicated
-- per (organization, email) by rule 6: verified first, then earliest created_at, then smallest
-- user id. Run by run.mjs with the variable src set to the JSONL path; writes into out/.
SET preserve_insertion_order = false;
CREATE TEMP TABLE m AS
WITH u AS (
  SELECT user_id,
         lower(trim(nfc_normalize(emails[1].email))) AS email,
         emails[1].verified AS verified,
         created_at::TIMESTAMP AS created_at,
         concat_ws(' ', name.first_name, name.middle_name, name.last_name) AS name,
         status,
         to_json(trusted_metadata) AS trusted_metadata,
         to_json(untrusted_metadata) AS untrusted_metadata,
         trusted_metadata.org_ids AS org_ids
  FROM read_json(getvariable('src'), format = 'newline_delimited', records = true,
       columns = {user_id: 'VARCHAR', emails: 'STRUCT(email_id VARCHAR, email VARCHAR, verified BOOLEAN)[]',
                  status: 'VARCHAR', name: 'STRUCT(first_name VARCHAR, middle_name VARCHAR, last_name VARCHAR)',
                  created_at: 'VARCHAR', trusted_metadata: 'JSON', untrusted_metadata: 'JSON'})
), x AS (
  SELECT unnest(from_json(org_ids, '["VARCHAR"]')) AS org_key, * EXCLUDE (org_ids) FROM u
  WHERE email IS NOT NULL AND email LIKE '%_@_%._%'
)
SELECT *, row_number() OVER (PARTITION BY org_key, email ORDER BY verified DESC, created_at, user_id) AS rn FROM x;

COPY (
  SELECT s.org_key, s.user_id AS source_user_id, s.email AS email_address, s.verified AS email_verified, s.name,
         s.user_id AS external_id, s.status, s.trusted_metadata, s.untrusted_metadata,
         coalesce(d.merged, []) AS merged_user_ids
  FROM m s LEFT JOIN (SELECT org_key, email, list(user_id ORDER BY user_id) AS merged FROM m WHERE rn > 1 GROUP BY ALL) d
    USING (org_key, email)
  WHERE s.rn = 1
) TO 'out/members.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT d.org_key, d.email AS email_address, d.user_id AS source_user_id, s.user_id AS survivor_user_id
      FROM m d JOIN m s ON s.org_key = d.org_key AND s.email = d.email AND s.rn = 1 WHERE d.rn > 1
      ORDER BY ALL) TO 'out/duplicates.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT org_key, count(*) FILTER (WHERE rn = 1) AS member_count FROM m GROUP BY ALL ORDER BY org_key)
  TO 'out/organizations.parquet' (FORMAT parquet, COMPRESSION zstd);
