-- Connection strings are sealed at rest (AES-256-GCM, see secretbox.c):
-- "enc:v1:KID:" + base64url(nonce | ciphertext | tag) of up to 1000 bytes
-- takes about 1400 characters.  Rows still in the clear are sealed by
-- `tenantctl migrate` after the SQL files (no GCM in SQL).
ALTER TABLE tenants MODIFY connection_string VARCHAR(2000) NULL;
