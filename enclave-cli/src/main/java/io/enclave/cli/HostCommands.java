package io.enclave.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code enclave host …}: the hosts VMs run on (admin). */
@Command(name = "host", description = "List hosts with capacity and heartbeat (admin).",
        subcommands = HostCommands.ListHosts.class)
final class HostCommands {
    private HostCommands() {}

    @Command(name = "list", description = "Hosts with capacity and heartbeat (admin).")
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
}
