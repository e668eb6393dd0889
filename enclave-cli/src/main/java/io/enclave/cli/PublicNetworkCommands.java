package io.enclave.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code enclave public-network …}: the provider's public network that tenant firewalls sit on (admin). */
@Command(name = "public-network", description = "Set and show the public network and its address pool (admin).",
        subcommands = {PublicNetworkCommands.SetPublicNetwork.class, PublicNetworkCommands.Show.class})
final class PublicNetworkCommands {
    private PublicNetworkCommands() {}

    @Command(name = "set", description = {"Set the public network every tenant firewall sits on (admin).",
            "Its CIDR is the pool tenants' public addresses come from."})
    static final class SetPublicNetwork implements Callable<Integer> {
        private final Session session;

        @Option(names = "--cidr", required = true, paramLabel = "C", description = "The address pool, e.g. 203.0.113.0/24.")
        String cidr;
        @Option(names = "--gateway", required = true, paramLabel = "G") String gateway;
        @Option(names = "--mtu", paramLabel = "N", description = "The API's default is 1500.") Integer mtu;

        SetPublicNetwork(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("cidr", cidr);
            body.put("gateway", gateway);
            if (mtu != null) body.put("mtu", mtu);
            session.printer().show(session.api().put("/public-network", body));
            return 0;
        }
    }

    @Command(name = "show", description = "Show the public network (admin).")
    static final class Show implements Callable<Integer> {
        private final Session session;

        Show(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().show(session.api().get("/public-network"));
            return 0;
        }
    }
}
