package io.enclave.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code enclave firewall …}: the tenant's firewall and its rules. */
@Command(name = "firewall", description = "Show the tenant's firewall; add and delete its rules.",
        subcommands = {FirewallCommands.Show.class, FirewallCommands.Allow.class, FirewallCommands.Egress.class,
                FirewallCommands.Forward.class, FirewallCommands.Nat.class, FirewallCommands.Delete.class})
final class FirewallCommands {
    private FirewallCommands() {}

    /** What ingress and egress rules match. */
    enum Protocol { tcp, udp, icmp, any }

    /** What a port forward carries. */
    enum ForwardProtocol { tcp, udp }

    private static final Pattern PORTS = Pattern.compile("(\\d{1,5})(?:-(\\d{1,5}))?");

    /** The tenant option of every rule command. */
    static final class TenantOption {
        @Option(names = "--tenant", paramLabel = "ID", description = "The tenant whose firewall (required for admins).")
        String tenantId;
    }

    /** What an ingress or egress rule matches besides the address: protocol and ports. */
    static final class TrafficOption {
        @Option(names = "--protocol", required = true, paramLabel = "P", description = "tcp, udp, icmp or any.")
        Protocol protocol;
        @Option(names = "--ports", paramLabel = "FROM[-TO]", description = "Port or port range (tcp and udp only).")
        String ports;

        /** A rule's body with protocol and ports filled in. */
        Map<String, Object> body() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("protocol", protocol.name());
            putPorts(body, ports);
            return body;
        }
    }

    @Command(name = "show", description = "Show the firewall: public address, form, phase, and its rules with hit counters.")
    static final class Show implements Callable<Integer> {
        private final Session session;

        @Option(names = "--tenant", paramLabel = "ID", description = "The tenant whose firewall (admins).")
        String tenantId;

        Show(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().show(session.api().get("/firewall", ApiClient.query("tenantId", tenantId)),
                    "rules", Views.RULES);
            return 0;
        }
    }

    @Command(name = "allow", description = "Allow traffic from outside to the tenant's public address (ingress).")
    static final class Allow implements Callable<Integer> {
        private final Session session;

        @Mixin TrafficOption traffic;
        @Option(names = "--source", paramLabel = "CIDR", description = "Only from this network (default: anywhere).")
        String source;
        @Mixin TenantOption tenant;

        Allow(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = traffic.body();
            if (source != null) body.put("sourceCidr", source);
            return add(session, "/firewall/ingress", body, tenant);
        }
    }

    @Command(name = "egress", description = {"Allow the tenant's VMs to reach outside (egress).",
            "Once there is an egress rule, only allowed traffic leaves."})
    static final class Egress implements Callable<Integer> {
        private final Session session;

        @Mixin TrafficOption traffic;
        @Option(names = "--destination", paramLabel = "CIDR", description = "Only to this network (default: anywhere).")
        String destination;
        @Mixin TenantOption tenant;

        Egress(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = traffic.body();
            if (destination != null) body.put("destinationCidr", destination);
            return add(session, "/firewall/egress", body, tenant);
        }
    }

    @Command(name = "forward", description = "Forward a port of the tenant's public address to a VM's port.")
    static final class Forward implements Callable<Integer> {
        private final Session session;

        @Option(names = "--public-port", required = true, paramLabel = "N") int publicPort;
        @Option(names = "--vm", required = true, paramLabel = "VM_ID") String vmId;
        @Option(names = "--port", required = true, paramLabel = "N", description = "The VM's port.") int targetPort;
        @Option(names = "--network", paramLabel = "NET_ID", description = "Which of the VM's NICs (default: its first).")
        String networkId;
        @Option(names = "--protocol", paramLabel = "P", description = "tcp or udp (the API's default is tcp).")
        ForwardProtocol protocol;
        @Option(names = "--source", paramLabel = "CIDR", description = "Only from this network (default: anywhere).")
        String source;
        @Mixin TenantOption tenant;

        Forward(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            if (protocol != null) body.put("protocol", protocol.name());
            body.put("publicPort", publicPort);
            body.put("vmId", vmId);
            if (networkId != null) body.put("networkId", networkId);
            body.put("targetPort", targetPort);
            if (source != null) body.put("sourceCidr", source);
            return add(session, "/firewall/forwards", body, tenant);
        }
    }

    @Command(name = "nat", description = "Give a VM its own public address from the pool (1:1 NAT).")
    static final class Nat implements Callable<Integer> {
        private final Session session;

        @Option(names = "--vm", required = true, paramLabel = "VM_ID") String vmId;
        @Option(names = "--network", paramLabel = "NET_ID", description = "Which of the VM's NICs (default: its first).")
        String networkId;
        @Mixin TenantOption tenant;

        Nat(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("vmId", vmId);
            if (networkId != null) body.put("networkId", networkId);
            return add(session, "/firewall/nat", body, tenant);
        }
    }

    @Command(name = "delete", description = "Remove a firewall rule.")
    static final class Delete implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "RULE_ID") String id;

        Delete(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.api().delete(ApiClient.path("firewall", "rules", id), null);
            session.printer().note("firewall rule " + id + " deleted");
            return 0;
        }
    }

    private static int add(Session session, String path, Map<String, Object> body, TenantOption tenant) {
        if (tenant.tenantId != null) body.put("tenantId", tenant.tenantId);
        session.printer().show(session.api().post(path, body, (String) null));
        return 0;
    }

    /** {@code 80} as portFrom, {@code 8000-8099} as portFrom and portTo; the API checks their range. */
    static void putPorts(Map<String, Object> body, String ports) {
        if (ports == null) return;
        Matcher m = PORTS.matcher(ports.strip());
        if (!m.matches()) throw CliException.usage("--ports must be a port or a range FROM-TO, got '" + ports + "'");
        body.put("portFrom", Integer.parseInt(m.group(1)));
        if (m.group(2) != null) body.put("portTo", Integer.parseInt(m.group(2)));
    }
}
