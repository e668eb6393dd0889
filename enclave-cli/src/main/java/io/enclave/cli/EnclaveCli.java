package io.enclave.cli;

import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine;

/** The {@code enclave} command: a client of Enclave's public REST API. */
public final class EnclaveCli {
    /** Set to {@code true} by the launcher when stderr is a terminal: progress is then redrawn in place. */
    static final String STDERR_TTY_PROPERTY = "enclave.stderr.tty";

    private EnclaveCli() {}

    public static void main(String[] args) {
        int code = run(args, System.out, System.err, System.getenv(), Boolean.getBoolean(STDERR_TTY_PROPERTY));
        System.exit(code);
    }

    /**
     * Runs one command line and answers its exit code, without calling System.exit: 0 ok, 1 API or
     * connection error, 2 usage error, 3 a waited-for operation failed; {@code vm exec} answers the guest
     * command's code. ENCLAVE_URL and ENCLAVE_TOKEN are read from {@code env}.
     */
    public static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> env) {
        return run(args, out, err, env, false);
    }

    static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> env, boolean stderrTerminal) {
        try (Session session = new Session(out, err, env, stderrTerminal)) {
            return commandLine(session).execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    static CommandLine commandLine(Session session) {
        ErrorReporter errors = new ErrorReporter(session.err);
        return new CommandLine(RootCommand.class, new CommandFactory(session))
                .setOut(new PrintWriter(new OutputStreamWriter(session.out, session.out.charset()), true))
                .setErr(new PrintWriter(new OutputStreamWriter(session.err, session.err.charset()), true))
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExpandAtFiles(false)
                .setExecutionExceptionHandler(errors)
                .setParameterExceptionHandler(errors);
    }
}
