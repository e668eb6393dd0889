package io.enclave.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** {@code enclave}: the global options, inherited by every subcommand, and the command groups. */
@Command(name = "enclave",
        description = "Manage tenants, tokens, VMs, images, networks and firewalls of an Enclave installation through its REST API.",
        mixinStandardHelpOptions = true,
        version = "enclave 0.1.0",
        scope = ScopeType.INHERIT,
        subcommands = {
                WhoamiCommand.class,
                TenantCommands.class,
                TokenCommands.class,
                VmCommands.class,
                OperationCommands.class,
                ImageCommands.class,
                HostCommands.class,
                PublicNetworkCommands.class,
                NetworkCommands.class,
                FirewallCommands.class},
        footer = {"", "Environment: ENCLAVE_URL (API base, e.g. http://127.0.0.1:8470/v1) and ENCLAVE_TOKEN.",
                "Exit codes: 0 ok, 1 API or connection error, 2 usage error, 3 waited-for operation failed."})
final class RootCommand {
    private final Session session;

    RootCommand(Session session) {
        this.session = session;
    }

    @Option(names = "--url", paramLabel = "URL", scope = ScopeType.INHERIT,
            description = "API base URL, with or without the trailing /v1 (default: $ENCLAVE_URL).")
    void url(String url) {
        session.url(url);
    }

    @Option(names = "--token", paramLabel = "TOKEN", scope = ScopeType.INHERIT,
            description = "API token (default: $ENCLAVE_TOKEN).")
    void token(String token) {
        session.token(token);
    }

    @Option(names = "--fingerprint", paramLabel = "SHA256", scope = ScopeType.INHERIT,
            description = "Trust only a controller whose certificate has this SHA-256 fingerprint (what enclave-server"
                    + " --tls prints; default: $ENCLAVE_FINGERPRINT). Without it, https URLs use the system's CAs.")
    void fingerprint(String fingerprint) {
        session.fingerprint(fingerprint);
    }

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", scope = ScopeType.INHERIT,
            description = "Output format: table or json (default: table).")
    void output(OutputFormat output) {
        session.output(output);
    }
}
