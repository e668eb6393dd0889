-- Many hosts: remote agents join with an identity (id + secret), report by heartbeat, can be put into
-- maintenance, and are fenced when declared dead. VMs carry their placement wishes.
ALTER TABLE hosts ADD COLUMN agent_url VARCHAR(255);
ALTER TABLE hosts ADD COLUMN agent_secret VARCHAR(128);
ALTER TABLE hosts ADD COLUMN underlay_address VARCHAR(45);
ALTER TABLE hosts ADD COLUMN shared_storage VARCHAR(63);
ALTER TABLE hosts ADD COLUMN shared_storage_path VARCHAR(1024);
-- none | draining | on
ALTER TABLE hosts ADD COLUMN maintenance VARCHAR(16) DEFAULT 'none' NOT NULL;
-- Declared dead and its HA VMs restarted elsewhere: whatever it still runs must be released when it returns.
ALTER TABLE hosts ADD COLUMN fenced BOOLEAN DEFAULT FALSE NOT NULL;
ALTER TABLE hosts ADD COLUMN joined_at TIMESTAMP WITH TIME ZONE;

ALTER TABLE vms ADD COLUMN highly_available BOOLEAN DEFAULT FALSE NOT NULL;
ALTER TABLE vms ADD COLUMN anti_affinity_group VARCHAR(63);
-- null: the boot disk is on the host's own storage; otherwise the shared storage it lives on.
ALTER TABLE vms ADD COLUMN shared_storage VARCHAR(63);

CREATE INDEX vms_anti_affinity ON vms (tenant_id, anti_affinity_group);
