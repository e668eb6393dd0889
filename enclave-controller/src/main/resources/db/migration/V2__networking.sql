-- Tenant networks, VM NICs, the shared public network and each tenant's firewall (issue 3).

-- The one public network every tenant firewall's port 2 sits on (id is always 'public').
CREATE TABLE public_network (
    id       VARCHAR(16)  PRIMARY KEY,
    cidr     VARCHAR(18)  NOT NULL,
    gateway  VARCHAR(15)  NOT NULL,
    uplink   VARCHAR(15),
    mtu      INTEGER      NOT NULL
);

-- One firewall per tenant, made with its first network. generation counts changes to anything the
-- tenant's networking is built from; the network reconciler records what it applied.
CREATE TABLE firewalls (
    tenant_id            VARCHAR(32)  PRIMARY KEY REFERENCES tenants(id),
    public_ip            VARCHAR(15)  NOT NULL UNIQUE,
    form                 VARCHAR(16)  NOT NULL,
    generation           BIGINT       NOT NULL,
    observed_generation  BIGINT       NOT NULL,
    phase                VARCHAR(16)  NOT NULL,
    message              VARCHAR(4000),
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE networks (
    id          VARCHAR(32)  PRIMARY KEY,
    tenant_id   VARCHAR(32)  NOT NULL REFERENCES tenants(id),
    name        VARCHAR(63)  NOT NULL,
    cidr        VARCHAR(18)  NOT NULL,
    gateway     VARCHAR(15)  NOT NULL,
    mtu         INTEGER      NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT networks_tenant_name UNIQUE (tenant_id, name)
);

CREATE TABLE nics (
    vm_id       VARCHAR(32)  NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    network_id  VARCHAR(32)  NOT NULL REFERENCES networks(id),
    position    INTEGER      NOT NULL,
    mac         VARCHAR(17)  NOT NULL UNIQUE,
    ip          VARCHAR(15)  NOT NULL,
    PRIMARY KEY (vm_id, network_id),
    CONSTRAINT nics_network_ip UNIQUE (network_id, ip)
);

-- Firewall rules of every kind; unused columns are NULL for a kind.
--   ingress:  protocol, port_from, port_to, source_cidr
--   forward:  protocol, public_port, vm_id, network_id, target_port, source_cidr
--   nat:      public_ip (allocated from the pool), vm_id, network_id
--   egress:   protocol, port_from, port_to, destination_cidr
CREATE TABLE firewall_rules (
    id                VARCHAR(32)  PRIMARY KEY,
    tenant_id         VARCHAR(32)  NOT NULL REFERENCES tenants(id),
    kind              VARCHAR(16)  NOT NULL,
    protocol          VARCHAR(8),
    port_from         INTEGER,
    port_to           INTEGER,
    source_cidr       VARCHAR(18),
    destination_cidr  VARCHAR(18),
    public_port       INTEGER,
    vm_id             VARCHAR(32)  REFERENCES vms(id) ON DELETE CASCADE,
    network_id        VARCHAR(32),
    target_port       INTEGER,
    public_ip         VARCHAR(15)  UNIQUE,
    created_at        TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX firewall_rules_tenant ON firewall_rules (tenant_id, created_at);
