-- Text search at scale (issue 12): the words of each tenant's name and
-- description, per account, so that q (and seed 002's description filter)
-- read only the tenants holding the words they name, whatever the size of
-- the account or of the platform.  A word is a run of ASCII letters,
-- digits, "_" and non-ASCII characters, kept if it has 3 characters or
-- more (its first 84); the collation makes lookups by prefix case- and
-- accent-insensitive (LIKE 'cafe%' finds Café).  README: "Text search and
-- filters".
--
-- tenantd fills it in the transaction of every create and every change of
-- a name or description, with the statement below for one tenant
-- (tenant_list.c); rows go with their tenant (ON DELETE CASCADE).
CREATE TABLE IF NOT EXISTS tenant_words (
  account_id BIGINT UNSIGNED NOT NULL,
  word       VARCHAR(84) NOT NULL,
  tenant_pk  BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (account_id, word, tenant_pk),
  KEY ix_tenant_words_word (word, tenant_pk),
  KEY ix_tenant_words_tenant (tenant_pk),
  CONSTRAINT fk_tenant_words_tenant FOREIGN KEY (tenant_pk)
    REFERENCES tenants (pk) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The words of every existing tenant, 500 tenants a statement: the
-- recursion's temporary table then stays in memory (tmp_table_size, 16 MiB
-- by default; one statement for all would write every tenant's text to a
-- temporary file).  Safe to run again after a failure: words already
-- there are skipped.  Each step of the recursion takes the next word of 3 characters
-- or more off the text: at most 551 steps for 2,201 characters, within
-- MySQL's cte_max_recursion_depth of 1000.
DROP PROCEDURE IF EXISTS tenantd_0011_words;
CREATE PROCEDURE tenantd_0011_words()
BEGIN
  DECLARE lo BIGINT UNSIGNED DEFAULT 0;
  DECLARE top BIGINT UNSIGNED;
  SELECT COALESCE(MAX(pk), 0) INTO top FROM tenants;
  WHILE lo < top DO
    INSERT IGNORE INTO tenant_words (account_id, word, tenant_pk)
      SELECT acc, word, pk FROM (
        WITH RECURSIVE w (pk, acc, rest, word) AS (
          SELECT pk, account_id,
            CAST(CONCAT(name, ' ', COALESCE(description, '')) AS CHAR(2300)),
            CAST('' AS CHAR(84))
          FROM tenants WHERE pk > lo AND pk <= lo + 500
          UNION ALL
          SELECT pk, acc,
            REGEXP_REPLACE(rest, '(?s)^.*?[^\\x00-\\x2F\\x3A-\\x40\\x5B-\\x5E\\x60\\x7B-\\x7F]{3,}', ''),
            LEFT(REGEXP_SUBSTR(rest, '[^\\x00-\\x2F\\x3A-\\x40\\x5B-\\x5E\\x60\\x7B-\\x7F]{3,}'), 84)
          FROM w
          WHERE rest REGEXP '[^\\x00-\\x2F\\x3A-\\x40\\x5B-\\x5E\\x60\\x7B-\\x7F]{3,}')
        SELECT acc, word, pk FROM w WHERE word <> '') x;
    SET lo = lo + 500;
  END WHILE;
END;
CALL tenantd_0011_words();
DROP PROCEDURE tenantd_0011_words;
