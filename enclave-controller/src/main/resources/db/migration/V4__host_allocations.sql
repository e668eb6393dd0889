-- What each host has given to VMs, kept with every VM insert and delete, so placing a VM reads one row
-- per host instead of summing every VM (which made creates slow down as hosts filled).
CREATE TABLE host_allocations (
    host_id     VARCHAR(32) PRIMARY KEY REFERENCES hosts(id),
    vcpus       BIGINT      NOT NULL,
    memory_mib  BIGINT      NOT NULL
);

INSERT INTO host_allocations (host_id, vcpus, memory_mib)
SELECT h.id, COALESCE(SUM(v.vcpus), 0), COALESCE(SUM(v.memory_mib), 0)
FROM hosts h LEFT JOIN vms v ON v.host_id = h.id
GROUP BY h.id;
