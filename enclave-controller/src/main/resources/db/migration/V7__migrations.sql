-- A live migration in flight: the host the VM is moving to. Set before anything reaches the destination,
-- cleared when the VM's record moves (or the migration fails), so a restarted controller finds it.
ALTER TABLE vms ADD COLUMN migrating_to VARCHAR(32);
ALTER TABLE vms ADD COLUMN migration_operation VARCHAR(32);
