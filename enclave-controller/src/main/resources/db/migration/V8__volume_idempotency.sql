-- A volume create repeated with the same Idempotency-Key answers with the volume the first one made.
ALTER TABLE volumes ADD COLUMN idempotency_scope VARCHAR(32);
ALTER TABLE volumes ADD COLUMN idempotency_key VARCHAR(255);
ALTER TABLE volumes ADD CONSTRAINT volumes_idempotency UNIQUE (idempotency_scope, idempotency_key);
