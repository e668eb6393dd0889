package io.enclave.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code enclave whoami}: the caller's role, tenant and token. */
@Command(name = "whoami", description = "Show the caller's role, tenant and token id.")
final class WhoamiCommand implements Callable<Integer> {
    private final Session session;

    WhoamiCommand(Session session) {
        this.session = session;
    }

    @Override
    public Integer call() {
        session.printer().show(session.api().get("/whoami"));
        return 0;
    }
}
