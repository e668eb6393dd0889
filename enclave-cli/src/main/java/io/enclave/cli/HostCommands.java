package io.enclave.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code enclave host …}: the hosts VMs run on (admin). */
@Command(name = "host", description = "Hosts: capacity, heartbeat, maintenance (admin).",
        subcommands = {HostCommands.ListHosts.class, HostCommands.Show.class, HostCommands.MaintenanceCommand.class})
final class HostCommands {
    private HostCommands() {}

    @Command(name = "list", description = "Hosts with capacity, heartbeat and maintenance state (admin).")
    static final class ListHosts implements Callable<Integer> {
        private final Session session;

        ListHosts(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().list(session.api().get("/hosts"), Views.HOSTS);
            return 0;
        }
    }

    @Command(name = "show", description = "One host (admin).")
    static final class Show implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "HOST_ID") String id;

        Show(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().show(session.api().get(ApiClient.path("hosts", id)));
            return 0;
        }
    }

    @Command(name = "maintenance", description = "on: drain the host (its running VMs migrate away) and keep it empty; off: take VMs again.")
    static final class MaintenanceCommand implements Callable<Integer> {
        private final Session session;

        @Parameters(index = "0", paramLabel = "HOST_ID") String id;
        @Parameters(index = "1", paramLabel = "on|off") String state;

        MaintenanceCommand(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            String path = ApiClient.path("hosts", id, "maintenance");
            switch (state) {
                case "on" -> session.printer().show(session.api().post(path, null, (String) null));
                case "off" -> session.printer().show(session.api().delete(path, null));
                default -> throw CliException.usage("maintenance state must be on or off, got '" + state + "'");
            }
            return 0;
        }
    }
}
