package io.enclave.controller.service;

import io.enclave.controller.auth.Caller;
import io.enclave.controller.persistence.FirewallRepository.FirewallRow;
import io.enclave.controller.persistence.FirewallRepository.RuleRow;
import io.enclave.controller.persistence.NetworkRepository.NetworkRow;
import io.enclave.controller.persistence.NetworkRepository.NicRow;
import io.enclave.controller.persistence.Scope;
import io.enclave.controller.persistence.Store;
import io.enclave.core.Ids;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.network.Cidr;
import io.enclave.core.network.EgressRule;
import io.enclave.core.network.IngressRule;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.OneToOneNat;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.PublicNetwork;
import io.enclave.core.network.TenantNetworking;
import io.enclave.core.validation.Validator;
import io.enclave.core.vm.Vm;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tenant networks, the public network and each tenant's firewall rules. Like VMs, every change is
 * recorded (raising the tenant firewall's generation) and handed to the network reconciler.
 */
public final class NetworkService {
    private static final Logger log = LoggerFactory.getLogger(NetworkService.class);
    public static final String LIGHT = TenantNetworking.LIGHT;

    /** A firewall rule as callers describe it; which fields count depends on the kind. */
    public record RuleRequest(String kind, String protocol, Integer portFrom, Integer portTo, String sourceCidr,
            String destinationCidr, Integer publicPort, String vmId, String networkId, Integer targetPort) {}

    private final Store store;
    private final Consumer<String> reconcileTenantSoon;
    private final Clock clock;

    public NetworkService(Store store, Consumer<String> reconcileTenantSoon, Clock clock) {
        this.store = store;
        this.reconcileTenantSoon = reconcileTenantSoon;
        this.clock = clock;
    }

    // ------------------------------------------------------------------ public network (admin)

    public PublicNetwork setPublicNetwork(PublicNetwork requested) {
        requested.validate();
        store.jdbi().useTransaction(h -> {
            Cidr cidr = requested.parsedCidr();
            for (String ip : store.firewalls().usedPublicIps(h)) {
                if (!cidr.contains(ip)) {
                    throw new EnclaveException.Conflict("public address " + ip + " is in use and outside " + requested.cidr());
                }
            }
            store.firewalls().savePublicNetwork(h, requested);
            store.firewalls().tenantsWithFirewall(h).forEach(t -> store.firewalls().bump(h, t));
        });
        log.info("public network set to {} (gateway {})", requested.cidr(), requested.gateway());
        store.jdbi().withHandle(h -> store.firewalls().tenantsWithFirewall(h)).forEach(reconcileTenantSoon);
        return requested;
    }

    public Optional<PublicNetwork> publicNetwork() {
        return store.jdbi().withHandle(h -> store.firewalls().publicNetwork(h));
    }

    // ------------------------------------------------------------------ networks

    public NetworkRow create(Caller caller, String tenantIdForAdmin, String name, String cidr) {
        return create(caller, tenantIdForAdmin, name, cidr, null);
    }

    /** @param firewallForm light or vm; only for the tenant's first network (it creates the firewall) */
    public NetworkRow create(Caller caller, String tenantIdForAdmin, String name, String cidr, String firewallForm) {
        String tenantId = Tenancy.targetTenant(caller, tenantIdForAdmin);
        Validator v = new Validator().dnsLabel(name, "name");
        v.require(firewallForm == null || firewallForm.equals(TenantNetworking.LIGHT)
                || firewallForm.equals(TenantNetworking.APPLIANCE), "firewallForm",
                "must be light or vm (got '" + firewallForm + "')");
        if (v.present(cidr, "cidr")) {
            v.require(Cidr.isValid(cidr) && Cidr.parse(cidr).toString().equals(cidr), "cidr",
                    "must be an IPv4 network address with its prefix, such as 10.0.0.0/24 (got '" + cidr + "')");
            if (Cidr.isValid(cidr)) {
                int prefix = Cidr.parse(cidr).prefixLength();
                v.require(prefix >= 16 && prefix <= 29, "cidr", "prefix must be between /16 and /29 (got /" + prefix + ")");
            }
        }
        v.throwIfInvalid();
        Instant now = clock.instant();
        Network network = Network.of(Ids.newId("net"), name, cidr);
        NetworkRow row = store.jdbi().inTransaction(h -> {
            store.tenants().lock(h, tenantId).orElseThrow(() -> new EnclaveException.NotFound("tenant", tenantId));
            if (store.networks().nameTaken(h, tenantId, name)) {
                throw new EnclaveException.Conflict("tenant " + tenantId + " already has a network named '" + name + "'");
            }
            for (Network other : store.networks().ofTenant(h, tenantId)) {
                if (other.parsedCidr().overlaps(Cidr.parse(cidr))) {
                    throw new EnclaveException.InvalidRequest("cidr", cidr + " overlaps network '" + other.name()
                            + "' (" + other.cidr() + ") of the same tenant");
                }
            }
            ensureFirewall(h, tenantId, firewallForm, now);
            store.networks().insert(h, tenantId, network, now);
            store.firewalls().bump(h, tenantId);
            return store.networks().find(h, Scope.ALL_TENANTS, network.id()).orElseThrow();
        });
        log.info("network {} ({}, {}) created for tenant {}", network.id(), name, cidr, tenantId);
        reconcileTenantSoon.accept(tenantId);
        return row;
    }

    public List<NetworkRow> list(Caller caller) {
        return store.jdbi().withHandle(h -> store.networks().list(h, Scope.of(caller)));
    }

    public NetworkRow get(Caller caller, String id) {
        return store.jdbi().withHandle(h -> store.networks().find(h, Scope.of(caller), id))
                .orElseThrow(() -> new EnclaveException.NotFound("network", id));
    }

    public void delete(Caller caller, String id) {
        String tenantId = store.jdbi().inTransaction(h -> {
            NetworkRow row = store.networks().find(h, Scope.of(caller), id)
                    .orElseThrow(() -> new EnclaveException.NotFound("network", id));
            store.tenants().lock(h, row.tenantId());
            int nics = store.networks().nicCount(h, id);
            if (nics > 0) {
                throw new EnclaveException.Conflict("network " + id + " still has " + nics + " VM NIC(s): delete those VMs first");
            }
            store.networks().delete(h, id);
            store.firewalls().bump(h, row.tenantId());
            return row.tenantId();
        });
        log.info("network {} of tenant {} deleted", id, tenantId);
        reconcileTenantSoon.accept(tenantId);
    }

    /**
     * Gives a new VM one NIC on each named network (inside the VM's create transaction): an address
     * from the network and a MAC, and records that the tenant's networking changed.
     */
    public void attachNewVm(Handle h, Vm vm, List<String> networkIds) {
        if (networkIds == null || networkIds.isEmpty()) return;
        List<String> macs = new java.util.ArrayList<>(store.networks().allMacs(h));
        for (int i = 0; i < networkIds.size(); i++) {
            String networkId = networkIds.get(i);
            String field = "networks[" + i + "]";
            NetworkRow net = store.networks().find(h, new Scope(vm.tenantId()), networkId)
                    .orElseThrow(() -> new EnclaveException.InvalidRequest(field, "no network '" + networkId + "' in this tenant"));
            if (networkIds.subList(0, i).contains(networkId)) {
                throw new EnclaveException.InvalidRequest(field, "network '" + networkId + "' is listed twice");
            }
            List<String> used = new java.util.ArrayList<>(store.networks().ipsOn(h, networkId));
            used.add(net.network().gateway());
            String ip = io.enclave.core.network.IpAllocator.nextFree(net.network().parsedCidr(), used)
                    .orElseThrow(() -> new EnclaveException.Conflict("network " + networkId + " has no free address"));
            String mac = io.enclave.core.network.Macs.generate(vm.id() + "/" + networkId, new java.util.HashSet<>(macs));
            macs.add(mac);
            store.networks().insertNic(h, new Nic(vm.id(), networkId, mac, ip, vm.spec().name()), i);
        }
        store.firewalls().bump(h, vm.tenantId());
    }

    public List<NicRow> nicsOf(String vmId) {
        return store.jdbi().withHandle(h -> store.networks().nicsOfVm(h, vmId));
    }

    // ------------------------------------------------------------------ firewall

    public FirewallRow firewall(Caller caller, String tenantIdForAdmin) {
        String tenantId = Tenancy.targetTenant(caller, tenantIdForAdmin);
        return store.jdbi().withHandle(h -> store.firewalls().find(h, Scope.of(caller), tenantId))
                .orElseThrow(() -> new EnclaveException.NotFound("firewall of tenant", tenantId));
    }

    public List<RuleRow> rules(String tenantId) {
        return store.jdbi().withHandle(h -> store.firewalls().rules(h, tenantId));
    }

    public RuleRow addRule(Caller caller, String tenantIdForAdmin, RuleRequest r) {
        String tenantId = Tenancy.targetTenant(caller, tenantIdForAdmin);
        Validator v = new Validator();
        String kind = r.kind();
        Protocol protocol = null;
        if ("forward".equals(kind) && r.protocol() == null) protocol = Protocol.TCP;
        else if (!"nat".equals(kind)) protocol = protocol(r.protocol(), v);
        switch (kind) {
            case "ingress" -> {
                portRange(r.portFrom(), r.portTo(), protocol, v);
                cidr(r.sourceCidr(), "sourceCidr", v);
            }
            case "egress" -> {
                portRange(r.portFrom(), r.portTo(), protocol, v);
                cidr(r.destinationCidr(), "destinationCidr", v);
            }
            case "forward" -> {
                v.require(protocol == null || protocol.hasPorts(), "protocol", "a port forward needs tcp or udp");
                port(r.publicPort(), "publicPort", v, true);
                port(r.targetPort(), "targetPort", v, true);
                v.present(r.vmId(), "vmId");
                cidr(r.sourceCidr(), "sourceCidr", v);
            }
            case "nat" -> v.present(r.vmId(), "vmId");
            default -> throw new IllegalArgumentException("unknown rule kind " + kind);
        }
        v.throwIfInvalid();
        Protocol proto = protocol;
        Instant now = clock.instant();
        RuleRow rule = store.jdbi().inTransaction(h -> {
            store.tenants().lock(h, tenantId).orElseThrow(() -> new EnclaveException.NotFound("tenant", tenantId));
            FirewallRow fw = store.firewalls().find(h, Scope.ALL_TENANTS, tenantId).orElseThrow(() ->
                    new EnclaveException.Conflict("tenant " + tenantId + " has no firewall yet: create a network first"));
            String networkId = r.networkId();
            String publicIp = null;
            if (kind.equals("forward") || kind.equals("nat")) {
                Vm vm = store.vms().find(h, new Scope(tenantId), r.vmId())
                        .orElseThrow(() -> new EnclaveException.InvalidRequest("vmId", "no VM '" + r.vmId() + "' in this tenant"));
                List<NicRow> nics = store.networks().nicsOfVm(h, vm.id());
                String wanted = networkId;
                NicRow nic = nics.stream().filter(n -> wanted == null || n.nic().networkId().equals(wanted))
                        .findFirst().orElseThrow(() -> new EnclaveException.InvalidRequest(wanted == null ? "vmId" : "networkId",
                                "VM " + vm.id() + " has no NIC on " + (wanted == null ? "any tenant network" : "network " + wanted)));
                networkId = nic.nic().networkId();
                for (RuleRow other : store.firewalls().rules(h, tenantId)) {
                    if (kind.equals("forward") && other.kind().equals("forward") && other.publicPort().equals(r.publicPort())
                            && other.protocol().equals(proto.name().toLowerCase(Locale.ROOT))) {
                        throw new EnclaveException.Conflict("public port " + proto.name().toLowerCase(Locale.ROOT) + "/"
                                + r.publicPort() + " is already forwarded (rule " + other.id() + ")");
                    }
                    if (kind.equals("nat") && other.kind().equals("nat") && other.vmId().equals(vm.id())
                            && other.networkId().equals(networkId)) {
                        throw new EnclaveException.Conflict("VM " + vm.id() + " already has a 1:1 address (rule " + other.id() + ")");
                    }
                }
                if (kind.equals("nat")) {
                    PublicNetwork pub = store.firewalls().publicNetwork(h).orElseThrow(() ->
                            new EnclaveException.Conflict("the provider has not configured the public network"));
                    publicIp = pub.allocate(store.firewalls().usedPublicIps(h));
                }
            }
            RuleRow row = new RuleRow(Ids.newId("fwr"), tenantId, kind,
                    proto == null ? null : proto.name().toLowerCase(Locale.ROOT), r.portFrom(), r.portTo(),
                    r.sourceCidr(), r.destinationCidr(), r.publicPort(), r.vmId(), networkId, r.targetPort(), publicIp, now);
            store.firewalls().insertRule(h, row);
            store.firewalls().bump(h, fw.tenantId());
            return row;
        });
        log.info("tenant {}: firewall {} rule {} added", tenantId, kind, rule.id());
        reconcileTenantSoon.accept(tenantId);
        return rule;
    }

    public void deleteRule(Caller caller, String ruleId) {
        String tenantId = store.jdbi().inTransaction(h -> {
            RuleRow rule = store.firewalls().rule(h, Scope.of(caller), ruleId)
                    .orElseThrow(() -> new EnclaveException.NotFound("firewall rule", ruleId));
            store.firewalls().deleteRule(h, ruleId);
            store.firewalls().bump(h, rule.tenantId());
            return rule.tenantId();
        });
        log.info("tenant {}: firewall rule {} deleted", tenantId, ruleId);
        reconcileTenantSoon.accept(tenantId);
    }

    /** Everything the hosts need to build the tenant's networking, read in one transaction. */
    public Optional<TenantNetworking> desired(String tenantId) {
        return store.jdbi().inTransaction(h -> {
            Optional<FirewallRow> fw = store.firewalls().find(h, Scope.ALL_TENANTS, tenantId);
            if (fw.isEmpty()) return Optional.empty();
            List<Network> networks = store.networks().ofTenant(h, tenantId);
            List<Nic> nics = store.networks().nicsOfTenant(h, tenantId).stream().map(NicRow::nic).toList();
            List<IngressRule> ingress = new java.util.ArrayList<>();
            List<PortForward> forwards = new java.util.ArrayList<>();
            List<OneToOneNat> nats = new java.util.ArrayList<>();
            List<EgressRule> egress = new java.util.ArrayList<>();
            for (RuleRow r : store.firewalls().rules(h, tenantId)) {
                Protocol p = r.protocol() == null ? null : Protocol.valueOf(r.protocol().toUpperCase(Locale.ROOT));
                switch (r.kind()) {
                    case "ingress" -> ingress.add(new IngressRule(r.id(), p, r.portFrom(), r.portTo(), r.sourceCidr(), null));
                    case "egress" -> egress.add(new EgressRule(r.id(), p, r.portFrom(), r.portTo(), r.destinationCidr()));
                    case "forward" -> forwards.add(new PortForward(r.id(), p, r.publicPort(), r.vmId(), r.networkId(),
                            r.targetPort(), r.sourceCidr()));
                    case "nat" -> nats.add(new OneToOneNat(r.id(), r.publicIp(), r.vmId(), r.networkId()));
                    default -> throw new IllegalStateException("unknown rule kind " + r.kind());
                }
            }
            return Optional.of(new TenantNetworking(tenantId, fw.get().publicIp(), networks, nics, ingress, forwards,
                    nats, egress, fw.get().form()));
        });
    }

    private void ensureFirewall(Handle h, String tenantId, String form, Instant now) {
        var existing = store.firewalls().find(h, Scope.ALL_TENANTS, tenantId);
        if (existing.isPresent()) {
            if (form != null && !existing.get().form().equals(form)) {
                throw new EnclaveException.Conflict("tenant " + tenantId + " already has a " + existing.get().form()
                        + " firewall; its form is chosen with the first network and cannot change");
            }
            return;
        }
        PublicNetwork pub = store.firewalls().publicNetwork(h).orElseThrow(() -> new EnclaveException.Conflict(
                "the provider has not configured the public network yet (PUT /v1/public-network)"));
        String ip = pub.allocate(store.firewalls().usedPublicIps(h));
        String chosen = form == null ? LIGHT : form;
        store.firewalls().insert(h, tenantId, ip, chosen, now);
        log.info("tenant {}: {} firewall created with public address {}", tenantId, chosen, ip);
    }

    private static Protocol protocol(String value, Validator v) {
        if (value == null) return Protocol.ANY;
        try {
            return Protocol.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            v.require(false, "protocol", "must be tcp, udp, icmp or any (got '" + value + "')");
            return null;
        }
    }

    private static void portRange(Integer from, Integer to, Protocol protocol, Validator v) {
        if (from == null && to == null) return;
        v.require(protocol == null || protocol.hasPorts(), "protocol", "ports need tcp or udp");
        port(from, "portFrom", v, true);
        if (to != null) {
            port(to, "portTo", v, true);
            v.require(from == null || to >= from, "portTo", "must not be below portFrom");
        }
    }

    private static void port(Integer port, String field, Validator v, boolean required) {
        if (port == null) {
            if (required) v.require(false, field, "is required");
            return;
        }
        v.require(port >= 1 && port <= 65535, field, "must be between 1 and 65535 (got " + port + ")");
    }

    private static void cidr(String value, String field, Validator v) {
        if (value == null) return;
        v.require(Cidr.isValid(value), field, "must be an IPv4 network such as 198.51.100.0/24 (got '" + value + "')");
    }

}
