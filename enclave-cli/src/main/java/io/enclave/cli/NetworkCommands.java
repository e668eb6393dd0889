package io.enclave.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code enclave network …}: tenants' private networks. */
@Command(name = "network", description = "Create, list, show and delete private networks.",
        subcommands = {NetworkCommands.Create.class, NetworkCommands.ListNetworks.class, NetworkCommands.Show.class,
                NetworkCommands.Delete.class})
final class NetworkCommands {
    private NetworkCommands() {}

    @Command(name = "create", description = {"Create a private network.",
            "A tenant's first network also creates its firewall and public address."})
    static final class Create implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "NAME", description = "Lower-case DNS label.") String name;
        @Option(names = "--cidr", required = true, paramLabel = "C", description = "IPv4 network, /16 to /29.")
        String cidr;
        @Option(names = "--tenant", paramLabel = "ID", description = "The tenant to create it in (required for admins).")
        String tenantId;

        Create(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("name", name);
            body.put("cidr", cidr);
            if (tenantId != null) body.put("tenantId", tenantId);
            session.printer().show(session.api().post("/networks", body, (String) null));
            return 0;
        }
    }

    @Command(name = "list", description = "List networks.")
    static final class ListNetworks implements Callable<Integer> {
        private final Session session;

        ListNetworks(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().list(session.api().get("/networks"), Views.NETWORKS);
            return 0;
        }
    }

    @Command(name = "show", description = "Show a network.")
    static final class Show implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;

        Show(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().show(session.api().get(ApiClient.path("networks", id)));
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete a network that no VM is on.")
    static final class Delete implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;

        Delete(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.api().delete(ApiClient.path("networks", id), null);
            session.printer().note("network " + id + " deleted");
            return 0;
        }
    }
}
