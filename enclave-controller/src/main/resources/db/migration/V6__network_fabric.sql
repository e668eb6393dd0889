-- Tenant networks across hosts: each network gets a VXLAN segment id (VNI), unique in the cloud, and each
-- tenant's firewall runs on one host.
ALTER TABLE networks ADD COLUMN vni INTEGER;
UPDATE networks SET vni = 4095 + (SELECT COUNT(*) FROM networks n2 WHERE n2.id <= networks.id);
ALTER TABLE networks ALTER COLUMN vni SET NOT NULL;
ALTER TABLE networks ADD CONSTRAINT networks_vni UNIQUE (vni);

-- The next VNI to hand out; one row, updated under its row lock so concurrent creates never share one.
CREATE TABLE vni_counter (
    id        INTEGER PRIMARY KEY,
    next_vni  INTEGER NOT NULL
);
INSERT INTO vni_counter (id, next_vni) SELECT 1, COALESCE(MAX(vni), 4095) + 1 FROM networks;

-- null until the reconciler first places it (on the host of the tenant's first VM, or any available host).
ALTER TABLE firewalls ADD COLUMN host_id VARCHAR(32);
